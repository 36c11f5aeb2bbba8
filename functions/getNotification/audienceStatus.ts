import { expansionText } from '../../shared/jobs/audience.js';
import type { DeliveryRecordStore, DeliveryStatus } from '../../shared/stores/deliveryRecords.js';
import type { JobCounterStore, JobRecord } from '../../shared/stores/jobs.js';
import { pendingOf, toRecipientStatus, type JobStatus } from './jobStatus.js';

/**
 * The status of an audience job, which may reach 50,000 people: totals from the job's outcome
 * counters and its expansion checkpoint (a few point and range reads), and the per-recipient
 * outcomes one page at a time, optionally of one status.
 */

export interface StatusPage {
  status?: DeliveryStatus | undefined;
  continuationToken?: string | undefined;
  /** Recipients per page (default 100, at most 1000). */
  size?: number | undefined;
}

export const STATUS_FILTERS: readonly DeliveryStatus[] = [
  'pending',
  'sent',
  'failed',
  'skipped',
  'recalled',
  'cancelled',
];

export async function audienceJobStatus(
  job: JobRecord,
  stores: { deliveryRecords: DeliveryRecordStore; counters: JobCounterStore },
  page: StatusPage,
): Promise<JobStatus> {
  const [counts, listed] = await Promise.all([
    stores.counters.totals(job.tenantId, job.jobId),
    stores.deliveryRecords.pageForJob(job.tenantId, job.jobId, {
      status: page.status,
      token: page.continuationToken,
      size: Math.min(Math.max(page.size ?? 100, 1), 1000),
    }),
  ]);
  const state = job.expansion ?? { segment: 0, queued: 0, estimate: 0, done: false };
  const totals = { recipients: state.queued, pending: pendingOf(state.queued, counts), ...counts };
  return {
    jobId: job.jobId,
    tenantId: job.tenantId,
    acceptedAt: job.acceptedAt,
    source: job.source,
    ...(job.priority ? { priority: job.priority } : {}),
    complete: state.done && totals.pending === 0,
    totals,
    expansion: {
      state: state.error ? 'failed' : state.done ? 'done' : 'expanding',
      expanded: state.queued,
      estimate: Math.max(state.estimate, state.queued),
      progress: expansionText(state),
      ...(state.error ? { reason: state.error.reason, errors: state.error.errors } : {}),
    },
    recipients: listed.records.map((r) => toRecipientStatus(r.recipient, r)),
    ...(listed.token ? { continuationToken: listed.token } : {}),
  };
}
