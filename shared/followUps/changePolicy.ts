import type { ConnectorResult } from '../delivery/connector.js';
import { decideFailure } from '../delivery/policy.js';
import type { DeliveryRecord } from '../stores/deliveryRecords.js';
import { sendsStopped, type JobContent } from '../stores/jobContent.js';

/**
 * Updates and recalls, as pure decisions: what one change task does with one delivery record, and
 * what to do with each Teams answer (delivery's error table, policy.ts, with one difference: a chat
 * or message Teams no longer knows is not opened again, since there is nothing left to change).
 */

export type ChangeAction =
  /** Recall before the send: record `cancelled`, nothing is sent. */
  | { do: 'cancel' }
  /** A send or another change of this copy is in flight: look again later. */
  | { do: 'wait'; delayMs: number }
  | { do: 'update'; revision: number }
  | { do: 'delete' }
  | { do: 'nothing'; why: string };

/** How soon a change looks again at a copy whose send is in flight. */
const SENDING_RECHECK_MS = 5000;

/** `<token>|<at>|<op>:<revision>`: who is changing this copy, since when, to what. */
export const changeClaimOf = (token: string, at: Date, op: string, revision: number) =>
  `${token}|${at.toISOString()}|${op}:${revision}`;

function claimHeldElsewhere(record: DeliveryRecord, token: string, now: Date, leaseMs: number): number {
  if (!record.changeClaim) return 0;
  const [holder, at] = record.changeClaim.split('|');
  if (holder === token) return 0;
  const age = now.getTime() - Date.parse(at ?? '');
  return Number.isFinite(age) && age < leaseMs ? leaseMs - age : 0;
}

export function decideChange(
  op: 'update' | 'recall',
  record: DeliveryRecord | undefined,
  content: Pick<JobContent, 'revision' | 'recallRequestedAt' | 'recalledAt'>,
  token: string,
  now: Date,
  leaseMs: number,
): ChangeAction {
  if (op === 'update' && sendsStopped(content)) return { do: 'nothing', why: 'recalled' };
  if (!record || record.status === 'pending') {
    // Not sent yet: a recall stops it here; an update needs nothing, the send reads the latest content.
    return op === 'recall' ? { do: 'cancel' } : { do: 'nothing', why: 'not sent yet' };
  }
  if (record.status === 'sending') {
    const age = now.getTime() - Date.parse(record.claimedAt ?? record.updatedAt);
    // Wait for the send to end (it is quick: one call once its rate-limit slot comes). An abandoned
    // claim is the delivery's to take over (its queue message comes back), not ours, so look again
    // well after that rather than every few seconds.
    return { do: 'wait', delayMs: age < leaseMs ? SENDING_RECHECK_MS : 30_000 };
  }
  if (record.status !== 'sent' || !record.activityId || !record.conversationId) {
    return { do: 'nothing', why: record.status === 'sent' ? 'no activity ID' : record.status };
  }
  const held = claimHeldElsewhere(record, token, now, leaseMs);
  if (held > 0) return { do: 'wait', delayMs: held };
  if (op === 'recall') return { do: 'delete' };
  if ((record.revision ?? 0) >= content.revision) return { do: 'nothing', why: 'already up to date' };
  return { do: 'update', revision: content.revision };
}

type Failure = Extract<ConnectorResult<unknown>, { ok: false }>;

export type ChangeFailureAction =
  | { do: 'wait'; delayMs: number; reason: string }
  | { do: 'reschedule'; delayMs: number; reason: string }
  | { do: 'retry-soon'; delayMs: number; reason: string }
  | { do: 'retry'; reason: string }
  | { do: 'fail'; reason: string };

/** A failed update or delete: throttling waits, transient faults retry, the rest is recorded as failed. */
export function decideChangeFailure(
  failure: Failure,
  call: number,
  maxWaitMs: number,
  transientRetries = 0,
): ChangeFailureAction {
  // 501: the service does not do this at all (Agents Playground answers DELETE so); retrying cannot help.
  if (failure.status === 501) return { do: 'fail', reason: failure.code || 'Http501' };
  const action = decideFailure(failure, {
    call,
    hasChat: false,
    reopened: true,
    maxWaitMs,
    transientRetries,
  });
  switch (action.do) {
    case 'wait':
    case 'reschedule':
    case 'retry-soon':
    case 'retry':
      return action;
    default:
      // 4xx (404 ActivityNotFoundInConversation, ConversationNotFound, 403...): nothing to retry.
      return { do: 'fail', reason: action.reason };
  }
}
