import type { RecipientKey } from '../jobs/recipient.js';

/**
 * The conversation store port: everything needed to DM a user later (users, their aliases, the
 * tenant's service URL and bot ID, teams and their rosters). The Table Storage adapter is
 * azureStorage/tableConversationStore.ts; unit tests use an in-memory twin.
 */

export interface UserProfile {
  userId: string;
  aadObjectId?: string | undefined;
  upn?: string | undefined;
  name?: string | undefined;
  serviceUrl: string;
}

export interface UserRecord extends UserProfile {
  tenantId: string;
  /** The 1:1 chat between the bot and this user, once known. */
  conversationId?: string | undefined;
  /** How the bot knows this user: 'personal' (installed in 1:1) and/or 'team:<id>'. */
  sources: string[];
  /**
   * Why the bot may not message this user now: a Teams 403 code, or removal from every team and chat
   * the bot knew them from. Cleared when they install the bot or talk to it again.
   */
  inactiveReason?: string | undefined;
  optedOut: boolean;
  welcomedAt?: string | undefined;
  capHour?: string | undefined;
  capCount: number;
  /**
   * Epoch ms reserved for the latest send to this user's 1:1 chat, written with each delivery claim, so
   * instances space their sends to one chat under its per-conversation limit (rateLimiter.ts).
   */
  chatNextAt?: number | undefined;
  updatedAt: string;
  /** Opaque version of the stored record; every update is guarded by it. */
  etag: string;
}

export interface TenantRecord {
  tenantId: string;
  serviceUrl: string;
  botId: string;
  /** About how many users the bot knows in the tenant (counted when a user is first stored). */
  userCount?: number | undefined;
}

export interface TeamRecord {
  tenantId: string;
  teamId: string;
  name?: string | undefined;
  serviceUrl: string;
  installed: boolean;
  memberCount: number;
  rosterSyncedAt?: string | undefined;
  /** The roster read the last install asked for, queued (roster/rosterTask.ts), with its checkpoint. */
  rosterSync?: RosterSync | undefined;
  /** Version of the stored row, for saveTeamIf. */
  etag?: string | undefined;
}

/** A queued roster read: asked for once per install, read page by page from its checkpoint. */
export interface RosterSync {
  /** The install that asked for it: a task of an older one stops. */
  id: string;
  requestedAt: string;
  /** Teams' continuation token for the next roster page. */
  token?: string | undefined;
  /** Members stored so far. */
  count: number;
  doneAt?: string | undefined;
  /** Why it stopped before the end (`Poisoned`). */
  failed?: string | undefined;
}

/** A change to a user: return the new record, or undefined to leave it as it is. */
export type UserChange = (current: UserRecord | undefined) => Omit<UserRecord, 'etag'> | undefined;

export interface SaveUserOptions {
  source?: string | undefined;
  conversationId?: string | undefined;
  reactivate?: boolean;
}

export interface ConversationStore {
  /** A user by Teams user ID, AAD object ID or UPN (point reads only). */
  getUser(tenantId: string, key: RecipientKey): Promise<UserRecord | undefined>;
  getUserById(tenantId: string, userId: string): Promise<UserRecord | undefined>;
  /** Up to `maxRows` of a tenant's users, read in pages (the fan-out's snapshots for big jobs). */
  listUsers(tenantId: string, maxRows: number): Promise<UserRecord[]>;
  /**
   * Read-modify-write with optimistic concurrency; returns the stored record and whether it changed.
   * `known`: a record this instance just wrote or read, with its ETag; the first try uses it instead
   * of a read (a stale one only costs the read after all).
   */
  updateUser(
    tenantId: string,
    userId: string,
    change: UserChange,
    known?: UserRecord,
  ): Promise<{ user: UserRecord | undefined; changed: boolean }>;
  /** Creates or refreshes a user's addressing data from an activity or a roster page. */
  saveUser(tenantId: string, profile: UserProfile, options?: SaveUserOptions): Promise<UserRecord>;
  saveTenant(record: TenantRecord): Promise<void>;
  getTenant(tenantId: string): Promise<TenantRecord | undefined>;
  /** Merges: a record without `name` (roster sync, uninstall) keeps the stored name. */
  saveTeam(record: TeamRecord): Promise<void>;
  /**
   * saveTeam over the row as read: `etag` (undefined: only where there is no row yet). The new
   * version, or undefined when another write came first (a concurrent install, another task).
   */
  saveTeamIf(record: TeamRecord, etag: string | undefined): Promise<string | undefined>;
  getTeam(tenantId: string, teamId: string): Promise<TeamRecord | undefined>;
  addTeamMembers(tenantId: string, teamId: string, userIds: string[]): Promise<void>;
  removeTeamMembers(tenantId: string, teamId: string, userIds: string[]): Promise<void>;
  listTeamMembers(tenantId: string, teamId: string): Promise<string[]>;
}

/** The change that forgets one way the bot knew a user; without any left, the user becomes inactive. */
export function withoutSource(source: string, reason: string): UserChange {
  return (current) => {
    if (!current || !current.sources.includes(source)) return undefined;
    const sources = current.sources.filter((s) => s !== source);
    return {
      ...current,
      sources,
      inactiveReason: sources.length ? current.inactiveReason : reason,
      updatedAt: new Date().toISOString(),
    };
  };
}

/** The user with one more delivery counted in `hour` (the hourly cap's counter starts again each hour). */
export function countDelivery<T extends Omit<UserRecord, 'etag'>>(user: T, hour: string): T {
  return { ...user, capHour: hour, capCount: user.capHour === hour ? user.capCount + 1 : 1 };
}

/** saveUser as a change: the profile merged into the stored user, or undefined when nothing moved. */
export function profileChange(
  tenantId: string,
  profile: UserProfile,
  options: SaveUserOptions,
  now: string,
): UserChange {
  return (current) => {
    const sources = new Set(current?.sources ?? []);
    if (options.source) sources.add(options.source);
    const next: Omit<UserRecord, 'etag'> = {
      tenantId,
      capCount: 0,
      optedOut: false,
      ...current,
      userId: profile.userId,
      aadObjectId: profile.aadObjectId ?? current?.aadObjectId,
      upn: profile.upn?.toLowerCase() ?? current?.upn,
      name: profile.name ?? current?.name,
      serviceUrl: profile.serviceUrl || current?.serviceUrl || '',
      conversationId: options.conversationId ?? current?.conversationId,
      sources: [...sources].sort(),
      inactiveReason: options.reactivate ? undefined : current?.inactiveReason,
      updatedAt: now,
    };
    if (current && sameUser(current, next)) return undefined;
    return next;
  };
}

function sameUser(a: Omit<UserRecord, 'etag'>, b: Omit<UserRecord, 'etag'>): boolean {
  const fields = ['aadObjectId', 'upn', 'name', 'serviceUrl', 'conversationId', 'inactiveReason'] as const;
  return fields.every((f) => (a[f] ?? '') === (b[f] ?? '')) && a.sources.join() === b.sources.join();
}
