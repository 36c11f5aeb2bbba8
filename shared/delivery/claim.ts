import type { RecipientKey } from '../jobs/recipient.js';
import { countDelivery, type UserRecord } from '../stores/conversations.js';
import type { DeliveryRecord, DeliveryRecordStore } from '../stores/deliveryRecords.js';
import { EventNames, telemetry } from '../telemetry/telemetry.js';
import type { OutcomeRecorder } from './outcome.js';
import { eligibility, existingDeliveryAction, hourOf } from './policy.js';
import type { DeliveryRateLimiter } from './rateLimiter.js';
import type { Recipients } from './recipients.js';
import type { AttemptContext, DeliveryResult, DeliveryTask } from './task.js';

/** A delivery this worker now holds: send it, then record the outcome. */
export interface Claimed {
  claimed: DeliveryRecord;
  /** The user as stored by the claim (hourly counter included). */
  user: UserRecord;
}

export interface ClaimOptions {
  records: DeliveryRecordStore;
  recipients: Recipients;
  outcomes: OutcomeRecorder;
  limiter: Pick<DeliveryRateLimiter, 'reserveChatTime'>;
  recipientHourlyCap: number;
  /** A claim older than this is presumed abandoned by a crashed worker. */
  leaseMs: number;
}

const MAX_ROUNDS = 8;

/**
 * Resolves the recipient, checks they may be messaged, and claims the delivery record together with
 * the recipient's hourly counter. Returns the claim, or the result when there is nothing to send
 * (ineligible recipient, a duplicate, a copy being worked on elsewhere, storage contention).
 */
export async function claimDelivery(
  task: DeliveryTask,
  key: RecipientKey,
  attempt: AttemptContext,
  now: Date,
  o: ClaimOptions,
): Promise<Claimed | DeliveryResult> {
  let existing: DeliveryRecord | undefined;
  let fresh = false;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    let found = await o.recipients.resolve(task.tenantId, key, fresh, task.user);
    // The claim's ETag check only guards sends: a skip or failure from a cached record (say,
    // opted out before the user typed "start") must be confirmed by a fresh read.
    if (!fresh && found && (found.inactiveReason || found.optedOut)) {
      found = await o.recipients.resolve(task.tenantId, key, true);
    }
    fresh = true;
    if (!found) {
      // Never met: Microsoft Graph may find, install for and store them (shared/graph/reach.ts).
      const reached = await o.recipients.reach(task, key, attempt);
      if (reached && 'result' in reached) return reached.result;
      if (reached && 'outcome' in reached) return o.outcomes.finishUnclaimed(task, reached.outcome);
      found = reached?.user;
    }
    const check = eligibility(found, key, now, o.recipientHourlyCap);
    if (!check.eligible) return o.outcomes.finishUnclaimed(task, check.outcome);
    // The claim also reserves this send's time in the user's chat, shared by every instance.
    const user = { ...check.user, chatNextAt: o.limiter.reserveChatTime(check.user.chatNextAt) };

    const hour = hourOf(now);
    const claim = await o.records.claim({
      tenantId: task.tenantId,
      jobId: task.jobId,
      recipient: task.recipient,
      claimToken: attempt.claimToken,
      user,
      capHour: hour,
      existing,
      counted: task.counted,
    });
    if (claim.kind === 'same-person') {
      // One person named twice (say by UPN and by user ID) gets one message: the other key's.
      return o.outcomes.finishUnclaimed(task, {
        status: 'skipped',
        reason: 'DuplicateRecipient',
        detail: `the same person as ${claim.recipient} in this job, which is their one delivery`,
        userId: user.userId,
      });
    }
    if (claim.kind === 'user-changed') {
      o.recipients.forget(task.tenantId, key);
      continue;
    }
    if (claim.kind === 'delivery-exists') {
      const d = claim.delivery;
      const action = existingDeliveryAction(d, attempt.claimToken, now, o.leaseMs);
      if (action.do === 'duplicate') {
        telemetry().event(EventNames.deliveryDuplicateSuppressed, { jobId: task.jobId, status: d.status });
        return { kind: 'done', status: d.status, reason: d.reason, duplicate: true };
      }
      if (action.do === 'reschedule') {
        // Another copy of this delivery is being worked on right now; look again after its lease.
        return { kind: 'reschedule', delayMs: action.delayMs, reason: 'ClaimedElsewhere' };
      }
      existing = d;
      continue;
    }
    const stored = { ...countDelivery(user, hour), etag: claim.userEtag };
    o.recipients.remember(task.tenantId, key, stored);
    return { claimed: claim.delivery, user: stored };
  }
  return { kind: 'retry', reason: 'StorageContention' };
}
