import {
  recordUnlessStands,
  recordWithoutClaim,
  type DeliveryOutcome,
  type DeliveryRecord,
  type DeliveryRecordStore,
} from '../stores/deliveryRecords.js';
import { EventNames, telemetry } from '../telemetry/telemetry.js';
import type { Deadline } from './deadline.js';
import { reportOutcome } from './report.js';
import {
  attemptNumber,
  laneOfTask,
  type AttemptContext,
  type DeliveryResult,
  type DeliveryTask,
} from './task.js';

/**
 * Records how a delivery ended (or why it goes back to the queue) in its delivery record, and reports
 * final outcomes. Every way out of a delivery attempt goes through here.
 */
export class OutcomeRecorder {
  constructor(
    private readonly records: DeliveryRecordStore,
    private readonly o: {
      /** Throttling and outages are waited out this long after the job was accepted, then `failed`. */
      retryWindowMs: number;
      /** How long the outcome of a connector call is retried while storage is unreachable. */
      outcomeWriteRetryMs: number;
      /** Gives a delivery's place in the recipient's hourly cap back (hourlyCap.ts). */
      refundCap?: ((tenantId: string, record: DeliveryRecord) => Promise<void>) | undefined;
    },
  ) {}

  /** A final outcome for a claimed delivery. */
  async finish(
    task: DeliveryTask,
    claimed: DeliveryRecord,
    ending: DeliveryOutcome,
    deadline?: Deadline,
  ): Promise<DeliveryResult> {
    // Every outcome names its lane (the status shows it beside the wait).
    const outcome: DeliveryOutcome = { lane: laneOfTask(task), ...ending };
    // After Teams accepted a message this write is all that stops a retry from sending it again, so a
    // storage outage (or restart) of up to about a minute must not turn into a duplicate; but not past
    // the invocation's hard stop, where the host would stop the worker anyway.
    const left = deadline ? deadline.hardAt - Date.now() : Infinity;
    const stood = await this.records.complete(task.tenantId, claimed, outcome, {
      waitOutOutageMs: Math.max(0, Math.min(this.o.outcomeWriteRetryMs, left)),
    });
    if (!stood) {
      // Someone else wrote the record meanwhile (a takeover after our lease, or a copy of this
      // message that found the recipient ineligible). Their record stands, unless Teams accepted our
      // send: the record must never deny a message the user has.
      const current =
        outcome.status === 'sent'
          ? await this.keepSent(task, outcome)
          : await this.records.get(task.tenantId, task.jobId, task.recipient);
      return { kind: 'done', status: current?.status ?? outcome.status, reason: current?.reason };
    }
    if (outcome.status !== 'sent') await this.o.refundCap?.(task.tenantId, claimed);
    reportOutcome(task, outcome, claimed.attempts);
    return { kind: 'done', status: outcome.status, reason: outcome.reason };
  }

  /** Writes `sent` over whatever record is not `sent`; returns the record that stands. */
  private async keepSent(task: DeliveryTask, outcome: DeliveryOutcome): Promise<DeliveryRecord | undefined> {
    const kept = await recordUnlessStands(this.records, task, outcome, {
      stands: (record) => record.status === 'sent',
      counted: task.counted,
    });
    if (!kept) return this.records.get(task.tenantId, task.jobId, task.recipient);
    if (kept.written) reportOutcome(task, outcome, kept.record?.attempts ?? 0);
    return kept.record;
  }

  /** The claim was taken over before our Teams call: nothing was sent; the record is the other copy's. */
  async lost(task: DeliveryTask): Promise<DeliveryResult> {
    const current = await this.records.get(task.tenantId, task.jobId, task.recipient);
    telemetry().event(EventNames.deliveryDuplicateSuppressed, { jobId: task.jobId, status: 'ClaimLost' });
    return { kind: 'done', status: current?.status ?? 'pending', reason: current?.reason, duplicate: true };
  }

  /** A final outcome reached before any claim (expired, ineligible recipient); a final record stands. */
  async finishUnclaimed(task: DeliveryTask, outcome: DeliveryOutcome): Promise<DeliveryResult> {
    const record = await recordWithoutClaim(
      this.records,
      task.tenantId,
      task.jobId,
      task.recipient,
      outcome,
      {
        counted: task.counted,
      },
    );
    const duplicate = record.status !== outcome.status || record.reason !== outcome.reason;
    if (!duplicate) reportOutcome(task, outcome, 0);
    return { kind: 'done', status: record.status, reason: record.reason, duplicate };
  }

  /**
   * Back to the queue after `delayMs` as a message of its own (Teams asked for a longer wait, or the
   * invocation's deadline came first), unless that would end past the retry window.
   */
  async reschedule(
    task: DeliveryTask,
    claimed: DeliveryRecord,
    delayMs: number,
    reason: string,
    deadline?: Deadline,
  ): Promise<DeliveryResult> {
    const until = Date.parse(task.acceptedAt) + this.o.retryWindowMs;
    if (Date.now() + delayMs > until) {
      return this.finish(
        task,
        claimed,
        {
          status: 'failed',
          reason: 'ThrottledTooLong',
          detail: `still ${reason} ${Math.round(this.o.retryWindowMs / 60_000)} minutes after the job was accepted (${task.reschedules} reschedules)`,
        },
        deadline,
      );
    }
    await this.records.complete(task.tenantId, claimed, {
      status: 'pending',
      reason,
      detail: 'rescheduled',
      requeued: true,
    });
    telemetry().event(EventNames.deliveryRetry, { jobId: task.jobId, reason, via: 'reschedule' });
    return { kind: 'reschedule', delayMs, reason };
  }

  /** A transient failure: release the claim and let the queue retry; on the last attempt, record the failure. */
  async retryLater(
    task: DeliveryTask,
    claimed: DeliveryRecord,
    attempt: AttemptContext,
    reason: string,
    detail: string,
  ): Promise<DeliveryResult> {
    const tries = attemptNumber(task, attempt);
    if (tries >= attempt.maxDequeueCount) {
      await this.finish(
        task,
        claimed,
        {
          status: 'failed',
          reason,
          detail: `${detail} (after ${tries} attempts; message moved to the poison queue)`,
        },
        attempt.deadline,
      );
      return { kind: 'retry', reason, last: true };
    }
    // A batch's recipient goes back as a message of its own, which then owns it (batchTurn.ts).
    const requeued = !!attempt.inBatch;
    await this.records.complete(task.tenantId, claimed, { status: 'pending', reason, detail, requeued });
    telemetry().event(EventNames.deliveryRetry, { jobId: task.jobId, reason, via: 'queue' });
    return { kind: 'retry', reason };
  }
}
