/**
 * The fake Graph's tenant: users, groups (nested), the organization's app catalog, and which apps
 * are installed for whom. Property names are Graph's (user, group, teamsApp resources); `teams` is
 * the fake's own knob for what Teams would do on an install (Graph shows no such property).
 */

export interface DirectoryUser {
  id: string;
  userPrincipalName: string;
  displayName: string;
  givenName?: string;
  surname?: string;
  mail?: string;
  /** Graph's user.accountEnabled; default true. */
  accountEnabled?: boolean;
  /** Graph's user.userType: Member (default) or Guest. */
  userType?: 'Member' | 'Guest';
  /** What Teams does when the app is installed for them: `unlicensed` and `blocked` are refused (403). */
  teams?: 'licensed' | 'unlicensed' | 'blocked';
}

export interface DirectoryGroup {
  id: string;
  displayName: string;
  /** Object IDs of member users and member groups. */
  members: string[];
}

/** A catalog entry as appcatalogs-list-teamsapps.md shows it. */
export interface CatalogApp {
  id: string;
  externalId: string;
  displayName: string;
  distributionMethod: 'organization' | 'store' | 'sideloaded';
}

export interface DirectoryData {
  users: DirectoryUser[];
  groups?: DirectoryGroup[];
  catalog?: CatalogApp[];
  /** User ID → catalog app IDs already installed for them. */
  installed?: Record<string, string[]>;
}

export class Directory {
  readonly users = new Map<string, DirectoryUser>();
  private readonly byUpn = new Map<string, DirectoryUser>();
  readonly groups = new Map<string, DirectoryGroup>();
  readonly catalog: CatalogApp[];
  /** `userId|appId` → the installation's chat ID. */
  readonly installs = new Map<string, string>();

  constructor(data: DirectoryData) {
    for (const user of data.users) this.addUser(user);
    for (const group of data.groups ?? []) this.groups.set(group.id.toLowerCase(), group);
    this.catalog = [...(data.catalog ?? [])];
    for (const [userId, apps] of Object.entries(data.installed ?? {}))
      for (const app of apps) this.installs.set(installKey(userId, app), '');
  }

  addUser(user: DirectoryUser): void {
    this.users.set(user.id.toLowerCase(), user);
    this.byUpn.set(user.userPrincipalName.toLowerCase(), user);
  }

  /** By object ID or user principal name (user-get.md: `/users/{id | userPrincipalName}`). */
  findUser(idOrUpn: string): DirectoryUser | undefined {
    const key = idOrUpn.toLowerCase();
    return this.users.get(key) ?? this.byUpn.get(key);
  }

  /** Every user in the group, nested groups included, each once (a flat list, as transitiveMembers is). */
  transitiveUsers(groupId: string): DirectoryUser[] {
    const out = new Map<string, DirectoryUser>();
    const seen = new Set<string>();
    const walk = (id: string) => {
      const group = this.groups.get(id.toLowerCase());
      if (!group || seen.has(group.id)) return;
      seen.add(group.id);
      for (const member of group.members) {
        const user = this.users.get(member.toLowerCase());
        if (user) out.set(user.id, user);
        else walk(member);
      }
    };
    walk(groupId);
    return [...out.values()];
  }

  isInstalled(userId: string, appId: string): boolean {
    return this.installs.has(installKey(userId, appId));
  }
}

export const installKey = (userId: string, appId: string) => `${userId.toLowerCase()}|${appId}`;
