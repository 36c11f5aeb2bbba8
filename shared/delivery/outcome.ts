import {
  recordUnlessStands,
  recordWithoutClaim,
  type DeliveryOutcome,
  type DeliveryRecord,
  type DeliveryRecordStore,
} from '../stores/deliveryRecords.js';
import { EventNames, telemetry } from '../telemetry/telemetry.js';
import { reportOutcome } from './report.js';
import type { AttemptContext, DeliveryResult, DeliveryTask } from './task.js';

/**
 * Records how a delivery ended (or why it goes back to the queue) in its delivery record, and reports
 * final outcomes. Every way out of a delivery attempt goes through here.
 */
export class OutcomeRecorder {
  constructor(
    private readonly records: DeliveryRecordStore,
    private readonly o: {
      maxReschedules: number;
      /** How long the outcome of a connector call is retried while storage is unreachable. */
      outcomeWriteRetryMs: number;
    },
  ) {}

  /** A final outcome for a claimed delivery. */
  async finish(
    task: DeliveryTask,
    claimed: DeliveryRecord,
    outcome: DeliveryOutcome,
  ): Promise<DeliveryResult> {
    // After Teams accepted a message this write is all that stops a retry from sending it again, so a
    // storage outage (or restart) of up to about a minute must not turn into a duplicate.
    const stood = await this.records.complete(task.tenantId, claimed, outcome, {
      waitOutOutageMs: this.o.outcomeWriteRetryMs,
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

  /** Teams asked for a longer wait: back to the queue with that delay, unless it has gone on too long. */
  async reschedule(
    task: DeliveryTask,
    claimed: DeliveryRecord,
    delayMs: number,
    reason: string,
  ): Promise<DeliveryResult> {
    if (task.reschedules >= this.o.maxReschedules) {
      return this.finish(task, claimed, {
        status: 'failed',
        reason: 'ThrottledTooLong',
        detail: `still ${reason} after ${task.reschedules} reschedules`,
      });
    }
    await this.records.complete(task.tenantId, claimed, { status: 'pending', reason, detail: 'rescheduled' });
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
    if (attempt.dequeueCount >= attempt.maxDequeueCount) {
      await this.finish(task, claimed, {
        status: 'failed',
        reason,
        detail: `${detail} (after ${attempt.dequeueCount} attempts; message moved to the poison queue)`,
      });
      return { kind: 'retry', reason };
    }
    await this.records.complete(task.tenantId, claimed, { status: 'pending', reason, detail });
    telemetry().event(EventNames.deliveryRetry, { jobId: task.jobId, reason, via: 'queue' });
    return { kind: 'retry', reason };
  }
}
