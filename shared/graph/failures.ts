import { backoffMs } from '../delivery/policy.js';
import type { GraphCall, GraphFailure } from './port.js';

/**
 * What to do with each Microsoft Graph answer that is not a success, as pure functions: the reason
 * a person reads in the status, and whether the delivery waits, retries or fails. Graph's statuses
 * and error shape: microsoft-graph-docs-contrib concepts/errors.md; 429 with Retry-After:
 * concepts/throttling.md ("Best practices to handle throttling"). Graph's `message` is for
 * developers and may change (errors.md), so decisions read the status, the call and the token's
 * roles only; the message is kept in the detail.
 */

/**
 * The application permissions that allow each call, least privileged first, from each API's
 * "Permissions" table (api-reference/v1.0/api/: user-get.md, appcatalogs-list-teamsapps.md,
 * userteamwork-post-installedapps.md, userteamwork-list-installedapps.md,
 * userscopeteamsappinstallation-get-chat.md, group-list-transitivemembers.md). User.Read.All, not
 * User.ReadBasic.All: the basic profile has no accountEnabled or userType (permissions-reference.md,
 * "User permissions", remarks), which decide guests and disabled accounts.
 */
export const ACCEPTED_ROLES: Record<GraphCall, readonly string[]> = {
  getUser: ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  findCatalogApp: ['AppCatalog.Read.All', 'AppCatalog.ReadWrite.All'],
  installApp: ['TeamsAppInstallation.ReadWriteSelfForUser.All', 'TeamsAppInstallation.ReadWriteForUser.All'],
  findInstallation: [
    'TeamsAppInstallation.ReadWriteSelfForUser.All',
    'TeamsAppInstallation.ReadForUser.All',
    'TeamsAppInstallation.ReadWriteForUser.All',
  ],
  getChat: [
    'TeamsAppInstallation.ReadWriteSelfForUser.All',
    'TeamsAppInstallation.ReadForUser.All',
    'TeamsAppInstallation.ReadWriteForUser.All',
  ],
  countGroupMembers: [
    'GroupMember.Read.All',
    'Group.Read.All',
    'GroupMember.ReadWrite.All',
    'Group.ReadWrite.All',
    'Directory.Read.All',
  ],
  groupMembers: [
    'GroupMember.Read.All',
    'Group.Read.All',
    'GroupMember.ReadWrite.All',
    'Group.ReadWrite.All',
    'Directory.Read.All',
  ],
};

/** What each call does, for a reason a person can read. */
const WHAT: Record<GraphCall, string> = {
  getUser: 'read the user in the directory',
  findCatalogApp: "look the app up in the organization's app catalog",
  installApp: 'install the app for the user',
  findInstallation: "read the user's installed apps",
  getChat: "read the user's chat with the app",
  countGroupMembers: "read the group's members",
  groupMembers: "read the group's members",
};

const TEAMS_CALLS: ReadonlySet<GraphCall> = new Set(['installApp', 'findInstallation', 'getChat']);

export type GraphAction =
  | { do: 'fail'; reason: string; detail: string }
  | { do: 'reschedule'; reason: string; delayMs: number }
  | { do: 'retry'; reason: string; detail: string };

/** The permission a reason names: the least privileged one the call accepts. */
export const neededRole = (call: GraphCall) => ACCEPTED_ROLES[call][0]!;

/** Whether roles (from the token) allow the call; undefined when the roles are not known. */
export function rolesAllow(call: GraphCall, roles: readonly string[] | undefined): boolean | undefined {
  return roles ? ACCEPTED_ROLES[call].some((r) => roles.includes(r)) : undefined;
}

export function permissionMissing(call: GraphCall): GraphAction {
  return {
    do: 'fail',
    reason: 'GraphPermissionMissing',
    detail: `the app may not ${WHAT[call]}: grant it the Microsoft Graph application permission ${neededRole(call)} (admin consent; docs/deploy.md)`,
  };
}

const quoted = (f: GraphFailure) =>
  `Microsoft Graph answered ${f.status} ${f.code}${f.message ? `: ${f.message.slice(0, 200)}` : ''}`;

export function decideGraphFailure(
  f: GraphFailure,
  roles: readonly string[] | undefined,
  attempt = 0,
): GraphAction {
  const { status, call } = f;
  // Refused before any request: a page from outside the service root is never read (middleware.ts).
  if (f.code === 'UntrustedGraphUrl') return { do: 'fail', reason: 'UntrustedGraphUrl', detail: f.message };
  // Not sent: the invocation's deadline came first (client.ts). A new message tries again at once.
  if (f.code === 'DeadlinePassed') return { do: 'reschedule', reason: 'Deadline', delayMs: 0 };
  if (status === 429 || status === 503 || status === 504) {
    // Waited out, never the delivery's failure: Retry-After when Graph gives one, else a back-off.
    return {
      do: 'reschedule',
      reason: status === 429 ? 'GraphThrottled' : 'GraphUnavailable',
      delayMs: f.retryAfterMs ?? backoffMs(attempt),
    };
  }
  if (status === 0 || status === 401 || status >= 500)
    return {
      do: 'retry',
      reason: status === 401 ? 'GraphUnauthorized' : 'GraphUnavailable',
      detail: quoted(f),
    };
  if (status === 403) {
    const allowed = rolesAllow(call, roles);
    if (!TEAMS_CALLS.has(call) || allowed === false) return permissionMissing(call);
    // The app holds the permission (or we cannot tell): Teams itself refused this user. errors.md:
    // 403 means "not enough permission or ... not ... a required license".
    return {
      do: 'fail',
      reason: 'InstallBlocked',
      detail: `Teams refused to ${WHAT[call]}: the user has no Teams licence, or an app permission policy (or the org-wide app settings) blocks the app for them${allowed === undefined ? `, or the app lacks ${neededRole(call)}` : ''}; check the Teams admin center (${quoted(f)})`,
    };
  }
  if (status === 404) {
    if (call === 'installApp')
      return {
        do: 'fail',
        reason: 'AppNotInCatalog',
        detail: `the app is not in the organization's app catalog under the ID used (TEAMS_APP_CATALOG_ID or the lookup by TEAMS_APP_ID): publish it (docs/deploy.md) (${quoted(f)})`,
      };
    if (call === 'countGroupMembers' || call === 'groupMembers')
      return {
        do: 'fail',
        reason: 'UnknownGroup',
        detail: `no such group in the tenant's directory (${quoted(f)})`,
      };
    return {
      do: 'fail',
      reason: 'NotInDirectory',
      detail: `no such user in the tenant's directory (${quoted(f)})`,
    };
  }
  return { do: 'fail', reason: 'GraphRequestFailed', detail: `could not ${WHAT[call]}: ${quoted(f)}` };
}
