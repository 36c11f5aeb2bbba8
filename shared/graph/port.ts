/**
 * The Microsoft Graph port: the few calls that reach people the bot never met. Every answer comes
 * back as data (status, Graph's error code, Retry-After), as the Bot Connector's do, so the caller
 * decides (failures.ts). Adapter: client.ts (the Microsoft Graph JavaScript SDK).
 */

import type { Deadline } from '../delivery/deadline.js';

/**
 * Per call: the invocation's deadline (delivery/deadline.ts). No wait for Graph's budget or
 * Retry-After, and no request, runs past it; such a call fails as `DeadlinePassed` without being sent.
 */
export interface GraphCallOptions {
  deadline?: Deadline | undefined;
}

/** A user as `GET /users/{id}` and the `microsoft.graph.user` members of a group answer (the selected properties). */
export interface GraphUser {
  id: string;
  userPrincipalName?: string | null | undefined;
  displayName?: string | null | undefined;
  accountEnabled?: boolean | null | undefined;
  userType?: string | null | undefined;
}

/** Which call answered: failures are read in the light of the call (a 404 on a user, on an install...). */
export type GraphCall =
  | 'getUser'
  | 'findCatalogApp'
  | 'installApp'
  | 'findInstallation'
  | 'getChat'
  | 'countGroupMembers'
  | 'groupMembers';

export interface GraphFailure {
  ok: false;
  call: GraphCall;
  /** 0 when no HTTP answer came (timeout, connection refused). */
  status: number;
  /** Graph's `error.code` (or `Http<status>`). */
  code: string;
  message: string;
  retryAfterMs?: number | undefined;
}

export type GraphResult<T> = { ok: true; value: T } | GraphFailure;

export interface GroupMembersPage {
  users: GraphUser[];
  /** Where the next page starts (a path under the service root), if any. */
  next?: string | undefined;
}

export interface GraphPort {
  /** `GET /users/{id | userPrincipalName}`; a 404 is a failure like any other. */
  getUser(tenantId: string, idOrUpn: string, o?: GraphCallOptions): Promise<GraphResult<GraphUser>>;
  /** The catalog ID of the app whose manifest ID is `externalId`, or undefined when the catalog has none. */
  findCatalogApp(
    tenantId: string,
    externalId: string,
    o?: GraphCallOptions,
  ): Promise<GraphResult<string | undefined>>;
  /** `POST /users/{id}/teamwork/installedApps`: `installed`, or `already` (Graph answered 409). */
  installApp(
    tenantId: string,
    userId: string,
    catalogId: string,
    o?: GraphCallOptions,
  ): Promise<GraphResult<'installed' | 'already'>>;
  /** The user's installation of the app, or undefined when it is not installed for them. */
  findInstallation(
    tenantId: string,
    userId: string,
    catalogId: string,
    o?: GraphCallOptions,
  ): Promise<GraphResult<string | undefined>>;
  /** The 1:1 chat between the user and the app: its ID. */
  getChat(
    tenantId: string,
    userId: string,
    installationId: string,
    o?: GraphCallOptions,
  ): Promise<GraphResult<string>>;
  /** How many users a group holds, nested groups included (also: whether it exists and may be read). */
  countGroupMembers(tenantId: string, groupId: string): Promise<GraphResult<number>>;
  /** One page of a group's users, nested groups included, from the start or from `next`. */
  groupMembers(
    tenantId: string,
    groupId: string,
    next: string | undefined,
    pageSize: number,
  ): Promise<GraphResult<GroupMembersPage>>;
  /** The application permissions (app roles) the app's token carries; undefined when not known. */
  grantedRoles(tenantId: string): Promise<readonly string[] | undefined>;
}
