/**
 * The fake Graph's routes (server.ts): which documented call a request is, each call's
 * application permissions (its page's "Permissions" table), `$filter` clauses as the pages' examples
 * write them, and a user's selected properties.
 */
import type { DirectoryUser } from './directory.js';
import { DEFAULT_USER_PROPERTIES } from './responses.js';

export type GraphRoute =
  | 'getUser'
  | 'listCatalog'
  | 'installApp'
  | 'listInstalledApps'
  | 'getChat'
  | 'countMembers'
  | 'listMembers'
  | 'unknown';

/** Application permissions each call accepts, from its page's "Permissions" table. */
export const PERMISSIONS: Record<Exclude<GraphRoute, 'unknown'>, readonly string[]> = {
  getUser: ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  listCatalog: ['AppCatalog.Read.All', 'AppCatalog.ReadWrite.All'],
  installApp: ['TeamsAppInstallation.ReadWriteSelfForUser.All', 'TeamsAppInstallation.ReadWriteForUser.All'],
  listInstalledApps: [
    'TeamsAppInstallation.ReadForUser.All',
    'TeamsAppInstallation.ReadWriteSelfForUser.All',
    'TeamsAppInstallation.ReadWriteForUser.All',
  ],
  getChat: [
    'TeamsAppInstallation.ReadForUser.All',
    'TeamsAppInstallation.ReadWriteSelfForUser.All',
    'TeamsAppInstallation.ReadWriteForUser.All',
  ],
  countMembers: [
    'GroupMember.Read.All',
    'Group.Read.All',
    'GroupMember.ReadWrite.All',
    'Group.ReadWrite.All',
    'Directory.Read.All',
  ],
  listMembers: [
    'GroupMember.Read.All',
    'Group.Read.All',
    'GroupMember.ReadWrite.All',
    'Group.ReadWrite.All',
    'Directory.Read.All',
  ],
};
export const ALL_ROLES = [
  'User.Read.All',
  'AppCatalog.Read.All',
  'TeamsAppInstallation.ReadWriteSelfForUser.All',
  'GroupMember.Read.All',
];

export function routeOf(method: string, path: string): { route: GraphRoute; params: string[] } {
  const m = (re: RegExp) =>
    re
      .exec(path)
      ?.slice(1)
      .map((p) => decodeURIComponent(p));
  let p: string[] | undefined;
  if (method === 'GET' && (p = m(/^\/users\('(.+)'\)$/) ?? m(/^\/users\/([^/]+)$/)))
    return { route: 'getUser', params: p };
  if (method === 'GET' && path === '/appCatalogs/teamsApps') return { route: 'listCatalog', params: [] };
  if ((p = m(/^\/users\/([^/]+)\/teamwork\/installedApps$/)))
    return {
      route: method === 'POST' ? 'installApp' : method === 'GET' ? 'listInstalledApps' : 'unknown',
      params: p,
    };
  if (method === 'GET' && (p = m(/^\/users\/([^/]+)\/teamwork\/installedApps\/([^/]+)\/chat$/)))
    return { route: 'getChat', params: p };
  if (method === 'GET' && (p = m(/^\/groups\/([^/]+)\/transitiveMembers\/microsoft\.graph\.user\/\$count$/)))
    return { route: 'countMembers', params: p };
  if (method === 'GET' && (p = m(/^\/groups\/([^/]+)\/transitiveMembers\/microsoft\.graph\.user$/)))
    return { route: 'listMembers', params: p };
  return { route: 'unknown', params: [] };
}

/** `name eq 'value'` clauses of a $filter (the forms the docs' examples use). */
export function filterClauses(filter: string | null): Map<string, string> {
  const out = new Map<string, string>();
  for (const [, name, value] of (filter ?? '').matchAll(/([\w/]+) eq '((?:[^']|'')*)'/g))
    out.set(name!, value!.replace(/''/g, "'"));
  return out;
}

export function select(
  user: DirectoryUser,
  fields: string[] | undefined,
  limited: boolean,
): Record<string, unknown> {
  const full: Record<string, unknown> = {
    accountEnabled: true,
    userType: 'Member',
    businessPhones: [],
    ...user,
  };
  delete full.teams;
  // Without permission to read users, a group's user members come back with their type and ID only
  // (permissions-reference.md, "Limited information returned for inaccessible member objects").
  if (limited)
    return {
      '@odata.type': '#microsoft.graph.user',
      id: user.id,
      ...Object.fromEntries((fields ?? []).filter((f) => f !== 'id').map((f) => [f, null])),
    };
  return Object.fromEntries((fields ?? DEFAULT_USER_PROPERTIES).map((f) => [f, full[f] ?? null]));
}
