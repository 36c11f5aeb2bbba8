import { toActivity } from '../jobs/contract.js';
import { FENCE_AFTER_MS } from '../delivery/claim.js';
import type { BotConnector } from '../delivery/connector.js';
import { invocationDeadline, type DeadlinePolicy } from '../delivery/deadline.js';
import { refundHourlyCap } from '../delivery/hourlyCap.js';
import type { DeliveryRateLimiter } from '../delivery/rateLimiter.js';
import { TeamsCalls } from '../delivery/teamsCall.js';
import type { AttemptContext, DeliveryResult } from '../delivery/task.js';
import type { ConversationStore } from '../stores/conversations.js';
import type { DeliveryRecord, DeliveryRecordStore } from '../stores/deliveryRecords.js';
import type { FollowUpStore } from '../stores/followUps.js';
import type { FollowUpFields } from '../stores/deliveryRecords.js';
import type { JobContent, JobContentStore } from '../stores/jobContent.js';
import { EventNames, telemetry } from '../telemetry/telemetry.js';
import { changeClaimOf, decideChange, decideChangeFailure } from './changePolicy.js';
import type { ChangeTask } from './changeTask.js';
import { messageFor } from './content.js';
import { reportFollowUp } from './report.js';

interface ChangeServiceOptions {
  records: DeliveryRecordStore;
  followUps: FollowUpStore;
  contents: JobContentStore;
  conversations: ConversationStore;
  connector: BotConnector;
  limiter: DeliveryRateLimiter;
  defaultServiceUrl: string;
  leaseMs?: number;
  maxInProcessWaitMs?: number;
  maxReschedules?: number;
  /** For an attempt without a deadline of its own (deadline.ts). */
  deadlinePolicy?: Omit<DeadlinePolicy, 'claimLeaseMs'> | undefined;
}

const MAX_ROUNDS = 5;
/** A delivery not sent when the recall took effect: a pending one, or one never tried. */
const CANCELLED = {
  status: 'cancelled' as const,
  reason: 'Recalled',
  detail: 'the job was recalled before this delivery was sent',
};
type FollowUpWrite = FollowUpFields & { status?: 'recalled' };

/**
 * Applies one update or recall to one recipient's copy: PUT or DELETE the sent activity within the
 * rate limits, or cancel a delivery not sent yet. Exactly once per recipient and revision: the
 * record's change claim (by queue message) guards the call, the recorded revision or `recalled`
 * status makes a redelivered task a no-op.
 */
export class ChangeService {
  private readonly leaseMs: number;
  private readonly maxWaitMs: number;

  constructor(private readonly o: ChangeServiceOptions) {
    this.leaseMs = o.leaseMs ?? 2 * 60_000;
    this.maxWaitMs = o.maxInProcessWaitMs ?? 10_000;
  }

  async apply(task: ChangeTask, attempt: AttemptContext): Promise<DeliveryResult> {
    const content = await this.o.contents.get(task.tenantId, task.jobId);
    if (!content) return { kind: 'done', status: 'failed', reason: 'UnknownJob' };
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const record = await this.o.records.get(task.tenantId, task.jobId, task.recipient);
      const now = new Date();
      const action = decideChange(task.op, record, content, attempt.claimToken, now, this.leaseMs);
      switch (action.do) {
        case 'nothing':
          return { kind: 'done', status: record?.status ?? 'pending', reason: action.why, duplicate: true };
        case 'wait':
          return this.reschedule(task, action.delayMs, 'ChangeWaitsForSend');
        case 'cancel': {
          const counted = { counted: task.counted };
          const done = await this.o.records.recordIfUnchanged(
            task.tenantId,
            task.jobId,
            task.recipient,
            CANCELLED,
            record,
            counted,
          );
          if (!done) continue; // the send claimed it meanwhile: decide again
          // A delivery rescheduled after its first claim was counted in its recipient's hour: nothing went out.
          await refundHourlyCap(this.o.conversations, task.tenantId, record);
          reportFollowUp('cancelled', task);
          return { kind: 'done', status: 'cancelled', reason: 'Recalled' };
        }
        case 'update':
        case 'delete': {
          const claim = changeClaimOf(attempt.claimToken, now, task.op, content.revision);
          const claimed = await this.o.followUps.write(task.tenantId, record!, { changeClaim: claim });
          if (!claimed) continue; // the record moved under us: decide again
          return this.call(task, claimed, content, attempt);
        }
      }
    }
    return { kind: 'retry', reason: 'StorageContention' };
  }

  /**
   * PUT or DELETE the sent copy through the shared Teams-call path (delivery/teamsCall.ts), within the
   * rate limits and the invocation's deadline; the change claim is re-checked (and renewed) before a
   * call that comes long after it was written.
   */
  private async call(
    task: ChangeTask,
    record: DeliveryRecord,
    content: JobContent,
    attempt: AttemptContext,
  ): Promise<DeliveryResult> {
    const chat = record.conversationId!;
    const activityId = record.activityId!;
    const serviceUrl = await this.serviceUrlFor(task.tenantId, record.userId);
    const activity = toActivity(messageFor(content, record.acknowledgedAt));
    const deadline =
      attempt.deadline ??
      invocationDeadline(Date.now(), {
        functionTimeoutMs: 5 * 60_000,
        connectorTimeoutMs: 15_000,
        ...this.o.deadlinePolicy,
        claimLeaseMs: this.leaseMs,
      });
    let held = record;
    let writtenAt = Date.now();
    const calls = new TeamsCalls({
      limiter: this.o.limiter,
      tenantId: task.tenantId,
      jobId: task.jobId,
      deadline,
      maxWaitMs: this.maxWaitMs,
      reschedules: task.reschedules,
      decide: (failure, state) =>
        decideChangeFailure(failure, state.call, state.maxWaitMs, state.transientRetries),
      fence: async () => {
        if (Date.now() - writtenAt < FENCE_AFTER_MS) return true;
        const claim = changeClaimOf(attempt.claimToken, new Date(), task.op, content.revision);
        const renewed = await this.o.followUps.write(task.tenantId, held, { changeClaim: claim });
        if (!renewed) return false;
        held = renewed;
        writtenAt = Date.now();
        return true;
      },
    });
    const end = await calls.call({
      name: task.op === 'update' ? 'UpdateActivity' : 'DeleteActivity',
      conversationId: chat,
      run: (timeoutMs) =>
        task.op === 'update'
          ? this.o.connector.updateActivity!(serviceUrl, chat, activityId, activity, { timeoutMs })
          : this.o.connector.deleteActivity!(serviceUrl, chat, activityId, { timeoutMs }),
    });
    switch (end.do) {
      case 'accept':
        return this.succeeded(task, held, content);
      case 'fenced':
        // Taken over after our lease: the change is the other copy's now.
        return { kind: 'done', status: held.status, reason: 'ClaimLost', duplicate: true };
      case 'reschedule':
        await this.release(task, held);
        return this.reschedule(task, end.delayMs, end.reason);
      case 'retry':
        if (attempt.dequeueCount < attempt.maxDequeueCount) {
          await this.release(task, held);
          telemetry().event(EventNames.deliveryRetry, {
            jobId: task.jobId,
            reason: end.reason,
            via: 'queue',
          });
          return { kind: 'retry', reason: end.reason };
        }
        return this.failed(task, held, content.revision, end.reason, end.detail);
      default:
        return this.failed(task, held, content.revision, end.reason, end.detail);
    }
  }

  private async succeeded(task: ChangeTask, record: DeliveryRecord, content: JobContent) {
    const at = new Date().toISOString();
    if (task.op === 'recall') {
      await this.finish(task, record, {
        status: 'recalled',
        recalledAt: at,
        changeClaim: '',
        changeFailure: null,
      });
      reportFollowUp('recalled', task);
      return { kind: 'done' as const, status: 'recalled' as const };
    }
    await this.finish(task, record, {
      revision: content.revision,
      revisedAt: at,
      changeClaim: '',
      changeFailure: null,
    });
    reportFollowUp('updated', task, { revision: content.revision });
    return {
      kind: 'done' as const,
      status: 'sent' as const,
      reason: `updated to revision ${content.revision}`,
    };
  }

  private async failed(
    task: ChangeTask,
    record: DeliveryRecord,
    revision: number,
    reason: string,
    detail: string,
  ) {
    const at = new Date().toISOString();
    await this.finish(task, record, {
      changeClaim: '',
      changeFailure: { op: task.op, revision, reason, detail: detail.slice(0, 300), at },
    });
    reportFollowUp('changeFailed', task, { op: task.op, reason });
    return { kind: 'done' as const, status: record.status, reason };
  }

  private async release(task: ChangeTask, record: DeliveryRecord): Promise<void> {
    await this.finish(task, record, { changeClaim: '' });
  }

  /**
   * Writes the end of a change while this task still holds its claim; a read or an acknowledgement
   * may have moved the record in between, which is no reason to lose the outcome.
   */
  private async finish(task: ChangeTask, claimed: DeliveryRecord, fields: FollowUpWrite): Promise<void> {
    let record: DeliveryRecord | undefined = claimed;
    for (let round = 0; round < MAX_ROUNDS && record; round++) {
      if (await this.o.followUps.write(task.tenantId, record, fields)) return;
      record = await this.o.records.get(task.tenantId, task.jobId, task.recipient);
      if (record?.changeClaim !== claimed.changeClaim) return; // taken over after our lease: theirs now
    }
  }

  private reschedule(task: ChangeTask, delayMs: number, reason: string): DeliveryResult {
    if (task.reschedules >= (this.o.maxReschedules ?? 50)) return { kind: 'retry', reason };
    return { kind: 'reschedule', delayMs, reason };
  }

  private async serviceUrlFor(tenantId: string, userId: string | undefined): Promise<string> {
    const user = userId ? await this.o.conversations.getUserById(tenantId, userId) : undefined;
    if (user?.serviceUrl) return user.serviceUrl;
    return (await this.o.conversations.getTenant(tenantId))?.serviceUrl ?? this.o.defaultServiceUrl;
  }
}
