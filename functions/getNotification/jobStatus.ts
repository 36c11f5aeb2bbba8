import {
  addCounts,
  countsOf,
  emptyCounts,
  FINAL_KINDS,
  type Counts,
} from '../../shared/jobs/outcomeCounts.js';
import type {
  DeliveryRecord,
  DeliveryRecordStore,
  DeliveryStatus,
} from '../../shared/stores/deliveryRecords.js';
import type { JobContentStore } from '../../shared/stores/jobContent.js';
import type {
  JobCounterStore,
  JobRef,
  JobStore,
  RejectedJobStore,
  RejectionSummary,
} from '../../shared/stores/jobs.js';
import { audienceJobStatus, type StatusPage } from './audienceStatus.js';
import type { Lane } from '../../shared/delivery/lanes.js';
import type { ProducerRef } from '../../shared/auth/roles.js';
import type { CallbackRecord, CallbackStore } from '../../shared/callbacks/port.js';
import { contentSummary, followUpFieldsOf, shownStatus } from './followUpStatus.js';

/** A job's per-recipient outcomes and totals, as shown by the status API and `npm run status`. */

/** Recipients without a final outcome yet (not attempted, or an attempt in flight). */
export const pendingOf = (recipients: number, counts: Counts) =>
  Math.max(0, recipients - FINAL_KINDS.reduce((n, k) => n + counts[k], 0));

interface RecipientStatus {
  recipient: string;
  status: DeliveryStatus;
  reason?: string | undefined;
  detail?: string | undefined;
  activityId?: string | undefined;
  conversationId?: string | undefined;
  attempts: number;
  completedAt?: string | undefined;
  /** The lane it ran in, and how long it waited from the job's acceptance to Teams' answer (ms). */
  lane?: Lane | undefined;
  waitMs?: number | undefined;
  updated?: boolean | undefined;
  revision?: number | undefined;
  revisedAt?: string | undefined;
  readAt?: string | undefined;
  acknowledgedAt?: string | undefined;
  recalledAt?: string | undefined;
  changeFailure?: DeliveryRecord['changeFailure'];
}

export interface JobStatus {
  jobId: string;
  tenantId: string;
  acceptedAt: string;
  source: string;
  /** The lane its deliveries run in: the priority it asked for, or its size's default (jobs/priority.ts). */
  priority?: Lane | undefined;
  /** True once every recipient has a final outcome. */
  complete: boolean;
  /** Outcomes and follow-ups (read, acknowledged, …): see jobs/outcomeCounts.ts. */
  totals: Record<'recipients' | 'pending', number> & Counts;
  /**
   * The content revision recipients see now (0: as accepted); when a recall was asked for (no send
   * starts after that is seen) and when it took effect (nothing was sent after it).
   */
  revision?: number;
  revisedAt?: string;
  recallRequestedAt?: string;
  recalledAt?: string;
  acknowledge?: boolean;
  /** The latest update's or recall's fan-out: change tasks queued so far, done or not. */
  changes?: { op: string; requestedAt: string; queued: number; done: boolean; failed?: string };
  recipients: RecipientStatus[];
  /** Audience jobs: how far the audience was read and queued ("expanded n of about N"). */
  expansion?: {
    state: 'expanding' | 'done' | 'failed';
    expanded: number;
    estimate: number;
    progress: string;
    reason?: string;
    errors?: string[];
  };
  /** Audience jobs: where the next page of recipients starts (pass back as `continuationToken`). */
  continuationToken?: string;
  /** Set when the job was refused (never accepted): nothing was or will be sent. */
  rejected?: boolean;
  reason?: string;
  errors?: string[];
  rejectedAt?: string;
  /** For an accepted job: the latest submission with this ID that was refused (e.g. different content). */
  lastRejection?: RejectionSummary;
  /** Who sent it over HTTP: how it signed in, its app (`azp`) and object (`oid`) IDs. */
  producer?: ProducerRef;
  /** Its callbacks (JobCompleted, JobRejected): where, how often tried, how they ended. */
  callbacks?: CallbackRecord[];
}

export async function getJobStatus(
  ref: JobRef,
  stores: {
    jobs: JobStore;
    deliveryRecords: DeliveryRecordStore;
    rejected?: RejectedJobStore;
    counters?: JobCounterStore;
    contents?: JobContentStore;
    callbacks?: CallbackStore;
  },
  page: StatusPage = {},
): Promise<JobStatus | undefined> {
  const status = await statusOf(ref, stores, page);
  const callbacks = status && (await stores.callbacks?.list(ref));
  return status && callbacks?.length ? { ...status, callbacks } : status;
}

async function statusOf(
  ref: JobRef,
  stores: Parameters<typeof getJobStatus>[1],
  page: StatusPage,
): Promise<JobStatus | undefined> {
  const { tenantId, jobId } = ref;
  const [job, rejection, content, fanOut] = await Promise.all([
    stores.jobs.get(tenantId, jobId),
    stores.rejected?.getForJob(tenantId, jobId),
    stores.contents?.get(tenantId, jobId),
    stores.contents?.fanOut(tenantId, jobId),
  ]);
  if (!job) {
    if (!rejection) return undefined;
    return {
      jobId,
      tenantId,
      acceptedAt: '',
      source: rejection.source,
      complete: true,
      totals: { recipients: 0, pending: 0, ...emptyCounts() },
      recipients: [],
      rejected: true,
      reason: rejection.reason,
      errors: rejection.errors,
      rejectedAt: rejection.rejectedAt,
    };
  }
  if (job.audience && stores.counters) {
    const status = await audienceJobStatus(job, { ...stores, counters: stores.counters }, page);
    return {
      ...status,
      ...contentSummary(content, fanOut),
      ...(rejection ? { lastRejection: rejection } : {}),
      ...(job.producer ? { producer: job.producer } : {}),
    };
  }
  const records = new Map(
    (await stores.deliveryRecords.listForJob(job.tenantId, jobId)).map((r) => [r.recipient, r]),
  );
  const counts = emptyCounts();
  const recipients = job.recipients.map((recipient): RecipientStatus => {
    const r = records.get(recipient);
    addCounts(counts, countsOf(r));
    return toRecipientStatus(recipient, r);
  });
  const totals = {
    recipients: job.recipients.length,
    pending: pendingOf(recipients.length, counts),
    ...counts,
  };
  return {
    jobId,
    tenantId: job.tenantId,
    acceptedAt: job.acceptedAt,
    source: job.source,
    ...(job.priority ? { priority: job.priority } : {}),
    complete: totals.pending === 0,
    totals,
    ...contentSummary(content, fanOut),
    recipients: page.status ? recipients.filter((r) => r.status === page.status) : recipients,
    ...(rejection ? { lastRejection: rejection } : {}),
    ...(job.producer ? { producer: job.producer } : {}),
  };
}

/** One recipient's line of a status answer (`sending` is an attempt in flight: pending to a reader). */
export function toRecipientStatus(recipient: string, r: DeliveryRecord | undefined): RecipientStatus {
  return {
    recipient,
    status: shownStatus(r),
    reason: r?.reason,
    detail: r?.detail,
    activityId: r?.activityId,
    conversationId: r?.conversationId,
    attempts: r?.attempts ?? 0,
    completedAt: r?.completedAt,
    lane: r?.lane,
    waitMs: r?.waitMs,
    ...followUpFieldsOf(r),
  };
}
