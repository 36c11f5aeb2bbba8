/**
 * Microsoft Graph's answers as its documentation shows them, for the fake Graph (server.ts). Each
 * shape cites its page in microsoftgraph/microsoft-graph-docs-contrib; nothing here is shaped after
 * what the app reads.
 */
import { randomUUID } from 'node:crypto';

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  /** JSON unless `text`. */
  body?: unknown;
  text?: string;
}

/**
 * An error: `{ error: { code, message, innerError: { request-id, date } } }` (concepts/errors.md,
 * "Error resource type" and its example of a full JSON error body).
 */
export function errorReply(
  status: number,
  code: string,
  message: string,
  headers?: Record<string, string>,
): Reply {
  return {
    status,
    ...(headers ? { headers } : {}),
    body: {
      error: {
        code,
        message,
        innerError: { 'request-id': randomUUID(), date: new Date().toISOString().slice(0, 19) },
      },
    },
  };
}

/**
 * Throttled: 429 with Retry-After in seconds and the body of concepts/throttling.md ("Sample
 * response": code TooManyRequests, innerError code "429", message "Please retry again later.").
 */
export function throttledReply(retryAfterSeconds: number): Reply {
  return {
    status: 429,
    headers: { 'retry-after': String(retryAfterSeconds) },
    body: {
      error: {
        code: 'TooManyRequests',
        innerError: {
          code: '429',
          date: new Date().toISOString().slice(0, 19),
          message: 'Please retry after',
          'request-id': randomUUID(),
          status: '429',
        },
        message: 'Please retry again later.',
      },
    },
  };
}

/** 503 with Retry-After (errors.md: "may be specified in a Retry-After header"; code serviceNotAvailable). */
export const unavailableReply = (retryAfterSeconds: number) =>
  errorReply(
    503,
    'serviceNotAvailable',
    'The service is not available. Try the request again after a delay.',
    {
      'retry-after': String(retryAfterSeconds),
    },
  );

/** 404 (user-get.md: "If a user with the ID doesn't exist, this method returns a 404 Not Found"; errors.md code itemNotFound). */
export const notFoundReply = (what: string) =>
  errorReply(404, 'itemNotFound', `The resource could not be found: ${what}`);

/**
 * 403 (errors.md: "Access is denied to the requested resource. The user might not have enough
 * permission or might not have a required license."; code accessDenied).
 */
export const forbiddenReply = (why: string) => errorReply(403, 'accessDenied', why);

/** 401 (concepts/resolve-auth-errors.md: "missing ... or the token is invalid"; errors.md code unauthenticated). */
export const unauthorizedReply = () => errorReply(401, 'unauthenticated', 'The caller is not authenticated.');

/**
 * Already installed: 409 (errors.md: "Conflict: The current state conflicts with what the request
 * expects"; the page lists no code for it, so its status name).
 */
export const conflictReply = () => errorReply(409, 'Conflict', 'The app is already installed for this user.');

/**
 * An OData cast or $count without `ConsistencyLevel: eventual` (group-list-transitivemembers.md says
 * both need it; aad-advanced-queries.md shows the error: 400 Request_UnsupportedQuery).
 */
export const unsupportedQueryReply = () =>
  errorReply(
    400,
    'Request_UnsupportedQuery',
    "Request with an OData cast or $count only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
  );

/** A collection: `{ "@odata.context"?, "@odata.count"?, value, "@odata.nextLink"? }` (each list page's example responses). */
export function collection(value: unknown[], extra: Record<string, unknown> = {}): Reply {
  return { status: 200, body: { ...extra, value } };
}

/** A user's selected properties; without $select the default set (user-get.md, "Optional query parameters"). */
export const DEFAULT_USER_PROPERTIES = [
  'businessPhones',
  'displayName',
  'givenName',
  'id',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
];

/**
 * A teamsAppInstallation's ID: the docs' examples decode to `<user id>##<teams app id>`
 * (userteamwork-list-installedapps.md, example 3), so the fake makes them that way.
 */
export const installationId = (userId: string, teamsAppId: string) =>
  Buffer.from(`${userId}##${teamsAppId}`).toString('base64');

/**
 * The 1:1 chat of a user and an app, as userscopeteamsappinstallation-get-chat.md answers it; IDs
 * look like `19:<guid>_<guid>@unq.gbl.spaces` there.
 */
export const chatReply = (origin: string, chatId: string): Reply => ({
  status: 200,
  body: { '@odata.context': `${origin}/v1.0/$metadata#chats/$entity`, id: chatId },
});
