import pMap from 'p-map';
import { isTenantAllowed, type AppConfig } from '../config.js';
import {
  batchesOf,
  delayOf,
  MAX_QUEUE_DELAY_MS,
  taskOf,
  type BatchRecipient,
  type DeliveryBatch,
} from '../delivery/batch.js';
import { enqueueJob } from './enqueue.js';
import type { QueueSender } from '../queues.js';
import type { JobContentStore } from '../stores/jobContent.js';
import type { JobRecord, JobStore, RejectedJobStore } from '../stores/jobs.js';
import type { ConversationStore } from '../stores/conversations.js';
import { EventNames, telemetry } from '../telemetry/telemetry.js';
import {
  contentHash,
  type NotificationJob,
  type RejectionReason,
  type ValidationResult,
} from './contract.js';
import { parseAndCheckCard } from './card.js';
import { recipientKeyString } from './recipient.js';
import { ExpansionDeferred, ExpansionPaced, ExpansionTakenOver, type AudienceExpander } from './expand.js';
import type { Audience } from './audience.js';
import { userSnapshots } from './snapshots.js';
import type { ProducerRef } from '../auth/roles.js';
import type { CallbackService } from '../callbacks/callbackService.js';
import { refuseCallbackUrl } from '../callbacks/addressPolicy.js';
import { decodeJobText } from './decode.js';
import type { Lane } from '../delivery/lanes.js';
import { laneOf } from './priority.js';

/**
 * Accepting a job, the one way for every entry point: `checkJob` validates (HTTP, queue), `record`
 * stores it once by ID and content (queue, @mention), and `accept` does both for a queued job and fans
 * it out, up to 16 recipients to a deliveries queue message (delivery/batch.ts). Invalid jobs are set
 * aside in RejectedJobs with their reason and never retried. Safe to run twice for the same job (queue
 * redelivery, a producer resending): each task is guarded by its delivery record.
 */

type IntakeRejection = RejectionReason | 'DuplicateJobId';
type IntakeResult =
  | {
      ok: true;
      jobId: string;
      tenantId: string;
      recipients: number;
      resumed: boolean;
      /** Put back on the jobs queue: due more than 7 days ahead, or Microsoft Graph asked to wait (`delayMs`). */
      deferred?: boolean;
      delayMs?: number;
      /** An audience's expansion paused for its window to drain (expand.ts), not for Graph. */
      paced?: boolean;
    }
  | { ok: false; reason: IntakeRejection; errors: string[]; jobId?: string | undefined };

interface IntakeOptions {
  config: Pick<AppConfig, 'allowedTenantIds'> & Partial<Pick<AppConfig, 'callbacks' | 'runsInAzure'>>;
  jobs: JobStore;
  rejected: RejectedJobStore;
  deliveryQueue: QueueSender;
  /** Each lane's deliveries queue (delivery/lanes.ts); without them every lane uses `deliveryQueue`. */
  laneQueues?: Record<Lane, QueueSender> | undefined;
  /** Where a job due more than 7 days ahead waits (see deferred); without it the deliveries wait. */
  jobQueue?: QueueSender | undefined;
  /** Where updates and recalls find the job's content (revision 0 is written here). */
  contents?: JobContentStore | undefined;
  fanOutConcurrency?: number;
  /** Expands teams and allUsers (expand.ts); without it an audience job is refused. */
  expander?: AudienceExpander | undefined;
  /** Reads a tenant's user records in bulk, so big jobs carry each recipient's record (see fanOut). */
  users?: Pick<ConversationStore, 'listUsers'> | undefined;
  /** Where a rejected job's JobRejected event goes, when it asked for a callback. */
  callbacks?: Pick<CallbackService, 'enqueue'> | undefined;
  /** Raises the tenant budget's yield signal before an urgent job's deliveries are queued (budget/sharedBudget.ts). */
  signalUrgent?: ((tenantId: string) => Promise<void>) | undefined;
}

/**
 * Validation shared by every entry point: decoding, the schema, the size limits, the card (with the
 * Adaptive Cards SDK), then the tenant allowlist.
 */
export async function checkJob(
  input: unknown,
  config: Pick<AppConfig, 'allowedTenantIds'> & Partial<Pick<AppConfig, 'callbacks' | 'runsInAzure'>>,
): Promise<ValidationResult> {
  const result = await parseAndCheckCard(input);
  if (!result.ok) return result;
  const refuse = (reason: RejectionReason, error: string): ValidationResult => ({
    ok: false,
    reason,
    errors: [error],
    jobId: result.job.id,
    tenantId: result.job.tenantId,
  });
  if (!isTenantAllowed(config as AppConfig, result.job.tenantId))
    return refuse(
      'TenantNotAllowed',
      `/tenantId: tenant ${result.job.tenantId} is not in ALLOWED_TENANT_IDS`,
    );
  const callback =
    result.job.callback && config.callbacks && callbackRefusal(result.job.callback.url, config);
  return callback ? refuse('CallbackNotAllowed', callback) : result;
}

/** Why a job's callback cannot be called here (no secret, or the URL: callbacks/addressPolicy.ts). */
function callbackRefusal(
  url: string,
  config: Partial<Pick<AppConfig, 'callbacks' | 'runsInAzure'>>,
): string | undefined {
  if (!config.callbacks?.secret) return '/callback: callbacks are off here (no CALLBACK_SIGNING_SECRET)';
  const { allowedHosts } = config.callbacks;
  return refuseCallbackUrl(url, { allowedHosts, runsInAzure: config.runsInAzure === true });
}

export class JobIntake {
  constructor(private readonly o: IntakeOptions) {}

  async accept(
    input: unknown,
    meta: { source: string; rawBody: string; queueMessageId?: string; acceptedAt?: string },
  ): Promise<IntakeResult> {
    const result = await checkJob(input, this.o.config);
    if (!result.ok) return this.reject(result.reason, result.errors, meta, result);
    const job = result.job;
    const recorded = await this.record(job, meta);
    if (!recorded.ok) return this.reject(recorded.reason, recorded.errors, meta, job);
    const { created, job: stored } = recorded;
    if (!stored.fannedOutAt && (await this.deferred(job))) {
      return {
        ok: true,
        jobId: job.id,
        tenantId: job.tenantId,
        recipients: 0,
        resumed: !created,
        deferred: true,
      };
    }
    if (job.audience) return this.expand({ ...job, audience: job.audience }, stored, created, meta);
    if (!stored.fannedOutAt) {
      await this.fanOut(job, stored.acceptedAt);
      await this.o.jobs.markFannedOut(job.tenantId, job.id);
    }
    return {
      ok: true,
      jobId: job.id,
      tenantId: job.tenantId,
      recipients: job.recipients.length,
      resumed: !created,
    };
  }

  /**
   * A job due further ahead than a queue message can stay hidden (7 days) is not fanned out yet: it
   * goes back on the jobs queue, hidden as long as allowed, and comes back here (a hop) until its
   * deliveries can be queued for `notBefore`. Its messages never expire (queueSender.ts), so no hop
   * is lost; an audience is read when it is nearly due, not days before.
   */
  private async deferred(job: NotificationJob): Promise<boolean> {
    const delayMs = delayOf(job);
    if (delayMs <= MAX_QUEUE_DELAY_MS || !this.o.jobQueue) return false;
    const sent = await enqueueJob(job, this.o.jobQueue, Math.min(delayMs, MAX_QUEUE_DELAY_MS));
    if (!sent.ok) throw new Error(`job ${job.id} no longer fits a queue message`);
    return true;
  }

  /**
   * An urgent job recorded over HTTP has its deliveries queued at once, in the request: through the
   * jobs queue they would wait for two queue polls (up to a second each) instead of one. False when
   * the job goes through the jobs queue as usual (not urgent, or due more than 7 days ahead).
   */
  async fanOutNow(job: NotificationJob, stored: JobRecord): Promise<boolean> {
    if (laneOf(job) !== 'urgent' || job.audience || delayOf(job) > MAX_QUEUE_DELAY_MS) return false;
    if (!stored.fannedOutAt) {
      await this.fanOut(job, stored.acceptedAt);
      await this.o.jobs.markFannedOut(job.tenantId, job.id);
    }
    return true;
  }

  /** A job whose ID was already accepted in its tenant with other content, found before it is queued (HTTP). */
  async reusedId(job: NotificationJob): Promise<ReturnType<typeof reusedIdRefusal> | undefined> {
    const existing = await this.o.jobs.get(job.tenantId, job.id);
    return existing && existing.contentHash !== contentHash(job) ? reusedIdRefusal(job.id) : undefined;
  }

  /** Stores a valid job once: the same ID again with the same content is the same job. */
  async record(
    job: NotificationJob,
    meta: {
      source: string;
      acceptedAt?: string | undefined;
      /** The HTTP caller that sent it (recorded on the job: ownership, status, quotas). */
      producer?: ProducerRef | undefined;
      origin?: string | undefined;
    },
  ): Promise<
    { ok: true; created: boolean; job: JobRecord } | { ok: false; reason: 'DuplicateJobId'; errors: string[] }
  > {
    const hash = contentHash(job);
    const { created, job: stored } = await this.o.jobs.createOrGet({
      jobId: job.id,
      tenantId: job.tenantId,
      recipients: job.recipients.map(recipientKeyString),
      ...(job.audience ? { audience: job.audience } : {}),
      contentHash: hash,
      priority: laneOf(job),
      acceptedAt: meta.acceptedAt ?? new Date().toISOString(),
      source: meta.source,
      notBefore: job.notBefore,
      expiresAt: job.expiresAt,
      producer: meta.producer,
      callbackUrl: job.callback?.url,
      origin: meta.origin,
    });
    if (!created && stored.contentHash !== hash) return reusedIdRefusal(job.id);
    // Before any delivery: an update or recall needs the content, and the bot an acknowledged card.
    if (created || !stored.fannedOutAt) {
      await this.o.contents?.ensure({
        jobId: job.id,
        tenantId: job.tenantId,
        message: job.message,
        acknowledgeTitle: job.acknowledge?.title,
      });
    }
    if (created) {
      telemetry().event(
        EventNames.jobAccepted,
        {
          jobId: job.id,
          tenantId: job.tenantId,
          source: meta.source,
          card: !!job.message.card,
          producer: meta.producer?.id,
          callback: !!job.callback,
        },
        { recipients: job.recipients.length },
      );
    }
    return { ok: true, created, job: stored };
  }

  /** A named job's recipients, several to a queue message like an audience's (delivery/batch.ts). */
  private async fanOut(job: NotificationJob, acceptedAt: string): Promise<void> {
    // Best effort: without the signal an urgent send still goes first in its instance.
    if (laneOf(job) === 'urgent') await this.o.signalUrgent?.(job.tenantId).catch(() => undefined);
    const users = await userSnapshots(this.o.users, job);
    const recipients = job.recipients.map((r) => {
      const recipient = recipientKeyString(r);
      return { recipient, user: users.get(recipient) };
    });
    await this.sendBatches(job, recipients, { ...taskOf(job, acceptedAt), ...callbackFlag(job) });
  }

  private async sendBatches(
    job: NotificationJob,
    recipients: BatchRecipient[],
    shared: DeliveryBatch['task'],
  ) {
    const queue = this.o.laneQueues?.[laneOf(job)] ?? this.o.deliveryQueue;
    await pMap(batchesOf(shared, recipients), (batch) => queue.send(batch, delayOf(job)), {
      concurrency: this.o.fanOutConcurrency ?? 16,
    });
  }

  /** An audience job: expanded page by page from its checkpoint; a reason stands when it cannot be. */
  private async expand(
    job: NotificationJob & { audience: Audience },
    stored: JobRecord,
    created: boolean,
    meta: { source: string; rawBody: string; queueMessageId?: string },
  ): Promise<IntakeResult> {
    if (!this.o.expander) throw new Error('audience jobs need an expander');
    const wasDone = stored.expansion?.done === true;
    let state;
    try {
      // Pages of all users carry each user's record: the delivery skips its own read (see snapshots.ts).
      // Audience outcomes are also counted on the job (status at scale).
      const shared = { ...taskOf(job, stored.acceptedAt), counted: true as const, ...callbackFlag(job) };
      state = await this.o.expander.expand(job, stored, (recipients) =>
        this.sendBatches(job, recipients, shared),
      );
    } catch (err) {
      if (err instanceof ExpansionDeferred && this.o.jobQueue) {
        // Microsoft Graph asked to wait: the job comes back then and continues from its checkpoint
        // (a wait, not a failed attempt of this message).
        const sent = await enqueueJob(job, this.o.jobQueue, err.delayMs);
        if (!sent.ok) throw new Error(`job ${job.id} no longer fits a queue message`);
        return {
          ok: true,
          jobId: job.id,
          tenantId: job.tenantId,
          recipients: 0,
          resumed: true,
          deferred: true,
          delayMs: err.delayMs,
          ...(err instanceof ExpansionPaced ? { paced: true } : {}),
        };
      }
      if (!(err instanceof ExpansionTakenOver)) throw err;
      return { ok: true, jobId: job.id, tenantId: job.tenantId, recipients: 0, resumed: true };
    }
    if (state.error) {
      if (!wasDone) return this.reject(state.error.reason, state.error.errors, meta, job);
      return { ok: false, jobId: job.id, ...state.error } as IntakeResult;
    }
    if (!stored.fannedOutAt) await this.o.jobs.markFannedOut(job.tenantId, job.id);
    return { ok: true, jobId: job.id, tenantId: job.tenantId, recipients: state.queued, resumed: !created };
  }

  /** Sets a job aside in RejectedJobs with its reason and raises the rejection event (e.g. from a poison queue). */
  async setAside(
    reason: string,
    errors: string[],
    meta: {
      source: string;
      rawBody: string;
      queueMessageId?: string | undefined;
      jobId?: string | undefined;
      tenantId?: string | undefined;
    },
  ): Promise<void> {
    await this.reject(reason, errors, meta, meta);
  }

  private async reject(
    reason: IntakeRejection | string,
    errors: string[],
    meta: { source: string; rawBody: string; queueMessageId?: string | undefined },
    job: { id?: string | undefined; jobId?: string | undefined; tenantId?: string | undefined },
  ): Promise<IntakeResult> {
    const jobId = job.id ?? job.jobId;
    await this.o.rejected.add({
      reason,
      errors,
      source: meta.source,
      jobId,
      tenantId: job.tenantId,
      queueMessageId: meta.queueMessageId,
      body: meta.rawBody,
    });
    telemetry().event(EventNames.jobRejected, {
      reason,
      source: meta.source,
      jobId,
      errorCount: errors.length,
    });
    const url = callbackUrlOf(meta.rawBody);
    if (url && jobId && job.tenantId && this.o.callbacks && reason !== 'CallbackNotAllowed') {
      const ref = { tenantId: job.tenantId, jobId };
      const data = { ...ref, totals: { recipients: 0 }, reason, errors: errors.slice(0, 10) };
      await this.o.callbacks.enqueue('rejected', ref, url, data);
    }
    return { ok: false, reason: reason as IntakeRejection, errors, jobId };
  }
}

function reusedIdRefusal(jobId: string) {
  return {
    ok: false as const,
    reason: 'DuplicateJobId' as const,
    errors: [`/id: job ${jobId} was already accepted with different content; use a new ID`],
  };
}

/** The callback URL a refused job asked for, when its text still says so (the service checks the host). */
function callbackUrlOf(rawBody: string): string | undefined {
  const decoded = decodeJobText(rawBody);
  const callback = decoded.ok
    ? (decoded.value as { callback?: { url?: unknown } } | null)?.callback
    : undefined;
  return typeof callback?.url === 'string' && callback.url.length <= 2048 ? callback.url : undefined;
}

/** Deliveries of a job with a callback say so: their outcomes then check whether it is complete. */
const callbackFlag = (job: NotificationJob) => (job.callback ? { callback: true as const } : {});
