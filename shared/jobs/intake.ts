import pMap from 'p-map';
import { isTenantAllowed, type AppConfig } from '../config.js';
import type { DeliveryTask } from '../delivery/deliver.js';
import type { QueueSender } from '../queue/queues.js';
import type { ConversationStore, UserRecord } from '../store/conversationStore.js';
import type { JobStore, RejectedJobStore } from '../store/jobStore.js';
import { EventNames, telemetry } from '../telemetry/telemetry.js';
import { currentTraceparent } from '../telemetry/traceContext.js';
import {
  contentHash,
  parseJob,
  type NotificationJob,
  type RejectionReason,
  type ValidationResult,
} from './contract.js';
import { recipientKeyString } from './recipient.js';

/**
 * Turns a job from the queue into one delivery task per recipient. Invalid jobs are set aside in
 * RejectedJobs with their reason and never retried. Safe to run twice for the same job (queue
 * redelivery, a producer resending): each task is guarded by its delivery record.
 */

export type IntakeRejection = RejectionReason | 'DuplicateJobId';
export type IntakeResult =
  | { ok: true; jobId: string; recipients: number; resumed: boolean }
  | { ok: false; reason: IntakeRejection; errors: string[]; jobId?: string | undefined };

export interface IntakeOptions {
  config: Pick<AppConfig, 'allowedTenantIds'>;
  jobs: JobStore;
  rejected: RejectedJobStore;
  deliveries: QueueSender;
  fanOutConcurrency?: number;
  /** Reads a tenant's user records in bulk, so big jobs carry each recipient's record (see fanOut). */
  users?: Pick<ConversationStore, 'listUsers'> | undefined;
}

/** Jobs naming at least this many recipients get user snapshots; a page of 1,000 users per 250 recipients at most. */
const SNAPSHOT_MIN_RECIPIENTS = 50;
const SNAPSHOT_ROWS_PER_RECIPIENT = 4;

/** Validation shared by every entry point: the schema, the size limits, then the tenant allowlist. */
export function checkJob(input: unknown, config: Pick<AppConfig, 'allowedTenantIds'>): ValidationResult {
  const result = parseJob(input);
  if (result.ok && !isTenantAllowed(config as AppConfig, result.job.tenantId)) {
    return {
      ok: false,
      reason: 'TenantNotAllowed',
      errors: [`/tenantId: tenant ${result.job.tenantId} is not in ALLOWED_TENANT_IDS`],
      jobId: result.job.id,
    };
  }
  return result;
}

export class JobIntake {
  constructor(private readonly o: IntakeOptions) {}

  async accept(
    input: unknown,
    meta: { source: string; rawBody: string; queueMessageId?: string; acceptedAt?: string },
  ): Promise<IntakeResult> {
    const result = checkJob(input, this.o.config);
    if (!result.ok) return this.reject(result.reason, result.errors, meta, result.jobId);
    const job = result.job;
    const hash = contentHash(job);
    const { created, job: stored } = await this.o.jobs.createOrGet({
      jobId: job.id,
      tenantId: job.tenantId,
      recipients: job.recipients.map(recipientKeyString),
      contentHash: hash,
      acceptedAt: meta.acceptedAt ?? new Date().toISOString(),
      source: meta.source,
      notBefore: job.notBefore,
      expiresAt: job.expiresAt,
    });
    if (!created && stored.contentHash !== hash) {
      return this.reject(
        'DuplicateJobId',
        [`/id: job ${job.id} was already accepted with different content; use a new ID`],
        meta,
        job.id,
      );
    }
    if (created) {
      telemetry().event(
        EventNames.jobAccepted,
        { jobId: job.id, tenantId: job.tenantId, source: meta.source, card: !!job.message.card },
        { recipients: job.recipients.length },
      );
    }
    if (!stored.fannedOutAt) {
      await this.fanOut(job, stored.acceptedAt);
      await this.o.jobs.markFannedOut(job.id);
    }
    return { ok: true, jobId: job.id, recipients: job.recipients.length, resumed: !created };
  }

  /**
   * For a big job, the tenant's user records by every key a job may name them with, read in pages of
   * 1,000 (bounded by the job's size): each task then carries its recipient's record, which the
   * delivery uses instead of a point read and confirms by the claim's ETag check. Best effort.
   */
  private async snapshots(job: NotificationJob): Promise<Map<string, UserRecord>> {
    const byKey = new Map<string, UserRecord>();
    if (!this.o.users || job.recipients.length < SNAPSHOT_MIN_RECIPIENTS) return byKey;
    try {
      const users = await this.o.users.listUsers(
        job.tenantId,
        job.recipients.length * SNAPSHOT_ROWS_PER_RECIPIENT,
      );
      for (const u of users) {
        byKey.set(recipientKeyString({ kind: 'userId', value: u.userId }), u);
        if (u.aadObjectId) byKey.set(recipientKeyString({ kind: 'aadObjectId', value: u.aadObjectId }), u);
        if (u.upn) byKey.set(recipientKeyString({ kind: 'upn', value: u.upn }), u);
      }
    } catch {
      // Without snapshots each delivery reads its user itself.
    }
    return byKey;
  }

  private async fanOut(job: NotificationJob, acceptedAt: string): Promise<void> {
    const users = await this.snapshots(job);
    const tasks: DeliveryTask[] = job.recipients.map((recipient) => ({
      v: 1,
      jobId: job.id,
      tenantId: job.tenantId,
      recipient: recipientKeyString(recipient),
      message: job.message,
      acceptedAt,
      notBefore: job.notBefore,
      expiresAt: job.expiresAt,
      reschedules: 0,
      // The intake span's context when there is one, so each delivery is its child.
      traceparent: currentTraceparent() ?? job.traceparent,
      user: users.get(recipientKeyString(recipient)),
    }));
    const delay = job.notBefore ? Math.max(0, Date.parse(job.notBefore) - Date.now()) : 0;
    await pMap(tasks, (task) => this.o.deliveries.send(task, delay), {
      concurrency: this.o.fanOutConcurrency ?? 16,
    });
  }

  private async reject(
    reason: IntakeRejection,
    errors: string[],
    meta: { source: string; rawBody: string; queueMessageId?: string },
    jobId: string | undefined,
  ): Promise<IntakeResult> {
    await this.o.rejected.add({
      reason,
      errors,
      source: meta.source,
      jobId,
      queueMessageId: meta.queueMessageId,
      body: meta.rawBody,
    });
    telemetry().event(EventNames.jobRejected, {
      reason,
      source: meta.source,
      jobId,
      errorCount: errors.length,
    });
    return { ok: false, reason, errors, jobId };
  }
}
