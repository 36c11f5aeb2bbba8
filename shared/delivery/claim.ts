import type { RecipientKey } from '../jobs/recipient.js';
import { countDelivery, type UserRecord } from '../stores/conversations.js';
import { claimCounts, type DeliveryRecord, type DeliveryRecordStore } from '../stores/deliveryRecords.js';
import { EventNames, telemetry } from '../telemetry/telemetry.js';
import type { OutcomeRecorder } from './outcome.js';
import { eligibility, existingDeliveryAction, hourOf } from './policy.js';
import type { DeliveryRateLimiter } from './rateLimiter.js';
import type { Recipients } from './recipients.js';
import type { AttemptContext, DeliveryResult, DeliveryTask } from './task.js';

/**
 * A Teams call more than this long after the claim's last write first writes it again (ETag-guarded):
 * the re-check that nobody took the delivery over, and a renewal of its lease. Sooner, the claim's own
 * write is that check: nobody takes a claim over within its 2-minute lease, except a later delivery
 * of the same queue message, which the host makes only once it gave this invocation up.
 */
export const FENCE_AFTER_MS = 5000;

/** The claim this invocation holds on a delivery record (its latest version, ETag included). */
export class HeldClaim {
  private writtenAt = Date.now();

  constructor(
    public record: DeliveryRecord,
    private readonly renew: (record: DeliveryRecord) => Promise<DeliveryRecord | undefined>,
  ) {}

  /** Just before a Teams call: false when the claim was lost (the call must not be made). */
  async fence(): Promise<boolean> {
    if (Date.now() - this.writtenAt < FENCE_AFTER_MS) return true;
    const renewed = await this.renew(this.record);
    if (!renewed) return false;
    this.record = renewed;
    this.writtenAt = Date.now();
    return true;
  }
}

/** A delivery this worker now holds: send it, then record the outcome. */
export interface Claimed {
  claimed: HeldClaim;
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
  /** The record as read and found ours to take over; undefined while none is known. */
  let existing: DeliveryRecord | undefined;
  /** What to do with a record another write left there: undefined means take it over. */
  const decide = (d: DeliveryRecord): DeliveryResult | undefined => {
    const action = existingDeliveryAction(d, attempt.claimToken, now, o.leaseMs);
    if (action.do === 'duplicate') {
      telemetry().event(EventNames.deliveryDuplicateSuppressed, { jobId: task.jobId, status: d.status });
      return { kind: 'done', status: d.status, reason: d.reason, duplicate: true };
    }
    // Another copy of this delivery is being worked on right now; look again after its lease.
    if (action.do === 'reschedule')
      return { kind: 'reschedule', delayMs: action.delayMs, reason: 'ClaimedElsewhere' };
    existing = d;
    return undefined;
  };
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
    let check = eligibility(found, key, now, o.recipientHourlyCap);
    if (!check.eligible && check.outcome.reason === 'HourlyCapReached') {
      // The cap counts a delivery once, at its first claim: a delivery taken over (after a 429, a
      // retry) must not be refused because of its own count.
      const current = existing ?? (await o.records.get(task.tenantId, task.jobId, task.recipient));
      const settled = current && !existing ? decide(current) : undefined;
      if (settled) return settled;
      if (existing?.capHour) check = eligibility(found, key, now, Infinity);
    }
    if (!check.eligible) return o.outcomes.finishUnclaimed(task, check.outcome);
    // The claim also reserves this send's time in the user's chat, shared by every instance.
    const user = { ...check.user, chatNextAt: o.limiter.reserveChatTime(check.user.chatNextAt) };

    const hour = hourOf(now);
    const request = {
      tenantId: task.tenantId,
      jobId: task.jobId,
      recipient: task.recipient,
      claimToken: attempt.claimToken,
      user,
      capHour: hour,
      existing,
      counted: task.counted,
    };
    const claim = await o.records.claim(request);
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
      const settled = decide(claim.delivery);
      if (settled) return settled;
      continue;
    }
    const stored = { ...(claimCounts(request) ? countDelivery(user, hour) : user), etag: claim.userEtag };
    o.recipients.remember(task.tenantId, key, stored);
    return {
      claimed: new HeldClaim(claim.delivery, (record) => o.records.renew(task.tenantId, record)),
      user: stored,
    };
  }
  return { kind: 'retry', reason: 'StorageContention' };
}
