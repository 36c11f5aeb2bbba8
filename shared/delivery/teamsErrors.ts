import { UNTRUSTED_SERVICE_URL, type ConnectorResult } from './connector.js';

/**
 * Microsoft's documented Bot Connector failures for Teams, and what delivery does with each.
 * https://learn.microsoft.com/microsoftteams/platform/bots/build-conversational-capability#status-codes-from-bot-conversational-apis
 */
export type FailureClass =
  | 'throttled' // 429, 412, 502, 503, 504: retry after Retry-After (or a jittered back-off)
  | 'blocked' // 403 with a code that means the user cannot get messages: deactivate, no retry
  | 'conversation-not-found' // 404 ConversationNotFound: forget the chat, create it again once
  | 'permanent' // 400, 413, other 4xx: fail without retry
  | 'transient'; // other 5xx, 401, timeouts, network errors: retry through the queue

export const BLOCKING_CODES: ReadonlySet<string> = new Set([
  'ConversationBlockedByUser',
  'BotNotInConversationRoster',
  'BotDisabledByAdmin',
  'ForbiddenOperationException',
]);

type Failure = Extract<ConnectorResult<unknown>, { ok: false }>;

export function classifyFailure(failure: Failure): FailureClass {
  const { status, code } = failure;
  if (code === UNTRUSTED_SERVICE_URL) return 'permanent'; // refused before any call: retrying cannot help
  if ([429, 412, 502, 503, 504].includes(status)) return 'throttled';
  if (status === 403) return BLOCKING_CODES.has(code) ? 'blocked' : 'permanent';
  if (status === 404) return code === 'ConversationNotFound' ? 'conversation-not-found' : 'permanent';
  if (status === 0 || status === 401 || status >= 500) return 'transient';
  return 'permanent';
}

/** A short, stable reason for records and telemetry: the Teams error code, else the HTTP status. */
export function reasonOf(failure: Failure): string {
  if (failure.status === 0) return failure.code;
  return failure.code && !failure.code.startsWith('Http') ? failure.code : `Http${failure.status}`;
}

/** Full-jitter exponential back-off: a random delay up to min(cap, base·2^attempt). */
export function backoffMs(attempt: number, baseMs = 1000, capMs = 60_000, random = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
