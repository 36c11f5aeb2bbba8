import type { DeliveryTask } from './task.js';
import { UNTRUSTED_SERVICE_URL, type ConnectorResult } from './connector.js';
import type { UserRecord } from '../stores/conversations.js';
import { TERMINAL, type DeliveryOutcome, type DeliveryRecord } from '../stores/deliveryRecords.js';

/**
 * Delivery's decisions, as pure functions: what to do with each Teams answer (docs/delivery.md's
 * error table, Microsoft's documented Bot Connector failures for Teams), whether a recipient may be
 * messaged now, and what to do with a delivery record that already exists.
 * https://learn.microsoft.com/microsoftteams/platform/bots/build-conversational-capability#status-codes-from-bot-conversational-apis
 */

type FailureClass =
  // 429, 412, 502, 503, 504, and no answer at all (a timeout, a network error): Teams is busy or out of
  // reach, not this message's fault; retry after Retry-After (or a jittered back-off), never using up
  // the message's attempts, until the retry window ends (so an outage is waited out)
  | 'throttled'
  | 'blocked' // 403 with a code that means the user cannot get messages: deactivate, no retry
  | 'conversation-not-found' // 404 ConversationNotFound: forget the chat, create it again once
  | 'permanent' // 400, 413, other 4xx: fail without retry
  | 'transient'; // other 5xx, 401: retry through the queue

const BLOCKING_CODES: ReadonlySet<string> = new Set([
  'ConversationBlockedByUser',
  'BotNotInConversationRoster',
  'BotDisabledByAdmin',
  'ForbiddenOperationException',
]);

type Failure = Extract<ConnectorResult<unknown>, { ok: false }>;

function classifyFailure(failure: Failure): FailureClass {
  const { status, code } = failure;
  if (code === UNTRUSTED_SERVICE_URL) return 'permanent'; // refused before any call: retrying cannot help
  if ([429, 412, 502, 503, 504].includes(status) || status === 0) return 'throttled';
  if (status === 403) return BLOCKING_CODES.has(code) ? 'blocked' : 'permanent';
  if (status === 404) return code === 'ConversationNotFound' ? 'conversation-not-found' : 'permanent';
  if (status === 401 || status >= 500) return 'transient';
  return 'permanent';
}

/** A short, stable reason for records and telemetry: the Teams error code, else the HTTP status. */
function reasonOf(failure: Failure): string {
  if (failure.status === 0) return failure.code;
  return failure.code && !failure.code.startsWith('Http') ? failure.code : `Http${failure.status}`;
}

/** Full-jitter exponential back-off: a random delay up to min(cap, base·2^attempt). */
export function backoffMs(attempt: number, baseMs = 1000, capMs = 60_000, random = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Where a send stands when Teams answers: which call this is, and whether a chat was reopened. */
export interface SendState {
  /** 0-based count of connector calls so far for this delivery. */
  call: number;
  /** A stored chat was used (so ConversationNotFound means Teams forgot it). */
  hasChat: boolean;
  /** The chat was already opened again once. */
  reopened: boolean;
  /** Transient failures already retried in process for this delivery. */
  transientRetries: number;
  /** Throttled calls wait in-process up to this long before going back to the queue. */
  maxWaitMs: number;
  /** Times this delivery was rescheduled already: the back-off without Retry-After keeps growing. */
  reschedules?: number | undefined;
}

export type FailureAction =
  | { do: 'wait'; delayMs: number; reason: string }
  | { do: 'reschedule'; delayMs: number; reason: string }
  | { do: 'reopen-chat'; reason: string }
  | { do: 'deactivate'; reason: string }
  | { do: 'retry-soon'; delayMs: number; reason: string }
  | { do: 'retry'; reason: string }
  | { do: 'fail'; reason: string };

/** What to do with one Teams answer: a 2xx is accepted (sent, or the chat is open); see decideFailure. */
export function decideAnswer(
  answer: ConnectorResult<unknown>,
  state: SendState,
): { do: 'accept' } | FailureAction {
  return answer.ok ? { do: 'accept' } : decideFailure(answer, state);
}

/** What to do with a failed call, row by row of the error table. */
export function decideFailure(failure: Failure, state: SendState): FailureAction {
  const reason = reasonOf(failure);
  switch (classifyFailure(failure)) {
    case 'throttled': {
      const delayMs = failure.retryAfterMs ?? backoffMs(state.call + (state.reschedules ?? 0));
      return delayMs <= state.maxWaitMs && state.call < 3
        ? { do: 'wait', delayMs, reason }
        : { do: 'reschedule', delayMs, reason };
    }
    case 'conversation-not-found':
      return state.hasChat && !state.reopened ? { do: 'reopen-chat', reason } : { do: 'fail', reason };
    case 'blocked':
      return { do: 'deactivate', reason };
    case 'transient':
      // Twice in process after a short back-off, then through the queue.
      return state.transientRetries < 2
        ? { do: 'retry-soon', delayMs: backoffMs(state.transientRetries + 1, 500), reason }
        : { do: 'retry', reason };
    case 'permanent':
      return { do: 'fail', reason };
  }
}

/** The hour a recipient's cap counts in (UTC, `YYYY-MM-DDTHH`). */
export const hourOf = (date: Date) => date.toISOString().slice(0, 13);

/** Expired, not due yet, or due now. */
export function dueness(
  task: Pick<DeliveryTask, 'expiresAt' | 'notBefore'>,
  now: Date,
): { due: false; outcome: DeliveryOutcome } | { due: false; delayMs: number } | { due: true } {
  if (task.expiresAt && Date.parse(task.expiresAt) <= now.getTime()) {
    return {
      due: false,
      outcome: { status: 'failed', reason: 'Expired', detail: `expired at ${task.expiresAt}` },
    };
  }
  if (task.notBefore && Date.parse(task.notBefore) > now.getTime()) {
    return { due: false, delayMs: Date.parse(task.notBefore) - now.getTime() };
  }
  return { due: true };
}

type Eligibility =
  | { eligible: true; user: UserRecord }
  /** The outcome to record instead of sending. */
  | { eligible: false; outcome: DeliveryOutcome };

/** Whether a recipient may be messaged now: known, active, not opted out, under the hourly cap. */
export function eligibility(
  user: UserRecord | undefined,
  recipient: { kind: string },
  now: Date,
  hourlyCap: number,
): Eligibility {
  const refuse = (outcome: DeliveryOutcome): Eligibility => ({ eligible: false, outcome });
  if (!user) {
    const known = recipient.kind === 'userId' ? 'known' : 'stored';
    return refuse({
      status: 'failed',
      reason: 'RecipientNotFound',
      detail: `no user with ${recipient.kind} ${known} in this tenant; install the bot for the user or in one of their teams`,
    });
  }
  if (user.inactiveReason) {
    return refuse({
      status: 'failed',
      reason: 'RecipientInactive',
      detail: user.inactiveReason,
      userId: user.userId,
    });
  }
  if (user.optedOut) return refuse({ status: 'skipped', reason: 'OptedOut', userId: user.userId });
  if (user.capHour === hourOf(now) && user.capCount >= hourlyCap) {
    return refuse({
      status: 'skipped',
      reason: 'HourlyCapReached',
      detail: `${hourlyCap} notifications this hour`,
      userId: user.userId,
    });
  }
  return { eligible: true, user };
}

type ExistingAction = { do: 'duplicate' } | { do: 'reschedule'; delayMs: number } | { do: 'take-over' };

/**
 * `<queue message ID>:<dequeue count>:<invocation ID>`: which message, which delivery of it, and which
 * invocation holds a claim. IDs are GUIDs, so neither `:` nor `|` (change claims) occur in them.
 */
export const claimTokenOf = (messageId: string, dequeueCount: number, invocationId: string) =>
  `${messageId}:${dequeueCount}:${invocationId}`;

function parseClaimToken(token: string | undefined) {
  const [messageId, count, invocationId] = (token ?? '').split(':');
  const dequeueCount = Number(count);
  return messageId && invocationId && Number.isInteger(dequeueCount)
    ? { messageId, dequeueCount, invocationId }
    : undefined;
}

/**
 * The claim was made by an earlier delivery of the same queue message. The host delivers a message
 * again only once it gave the earlier invocation up: it failed, or its worker was restarted past
 * functionTimeout, or its host died (a message is hidden for 10 minutes while it runs, longer than
 * functionTimeout). A claim token of a single message ID is from before tokens named invocations.
 */
function earlierDeliveryOfSameMessage(held: string | undefined, mine: string): boolean {
  const m = parseClaimToken(mine);
  if (!m || !held) return false;
  if (held === m.messageId) return true;
  const h = parseClaimToken(held);
  return !!h && h.messageId === m.messageId && h.dequeueCount < m.dequeueCount;
}

/**
 * A delivery record already exists: a final one stands (the copy is a duplicate); a claim held by a
 * live invocation is left alone until its lease ends (every Teams call renews it: claim.ts); an
 * abandoned one (pending, ours, an earlier delivery of our queue message, or past its lease) is taken
 * over.
 */
export function existingDeliveryAction(
  existing: DeliveryRecord,
  claimToken: string,
  now: Date,
  leaseMs: number,
): ExistingAction {
  if (TERMINAL.has(existing.status)) return { do: 'duplicate' };
  const abandoned =
    existing.status === 'pending' ||
    existing.claimToken === claimToken ||
    earlierDeliveryOfSameMessage(existing.claimToken, claimToken);
  const age = now.getTime() - Date.parse(existing.claimedAt ?? existing.updatedAt);
  if (!abandoned && age < leaseMs) return { do: 'reschedule', delayMs: leaseMs - age };
  return { do: 'take-over' };
}
