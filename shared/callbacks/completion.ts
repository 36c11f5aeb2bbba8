import { addCounts, countsOf, emptyCounts, FINAL_KINDS, type Counts } from '../jobs/outcomeCounts.js';
import type { DeliveryRecordStore } from '../stores/deliveryRecords.js';
import type { JobCounterStore, JobRecord, JobRef, JobStore } from '../stores/jobs.js';
import type { CallbackService } from './callbackService.js';

/**
 * The hook where a job's totals become final: after each delivery outcome of a job that asked for a
 * callback (and after a recall's cancellations), its totals are read as its status reads them
 * (outcome counters for audience jobs, delivery records otherwise); when nothing is pending, the
 * JobCompleted event is queued, then the job row is marked completed with a conditional write, so
 * later outcomes (and other instances) stop queuing it. Queuing before marking means a crash in
 * between loses nothing: the delivery's queue message comes back and queues it again, and the
 * event's own row (port.ts) lets only one copy go out.
 */

export interface CompletionDeps {
  jobs: JobStore;
  deliveryRecords: DeliveryRecordStore;
  counters: JobCounterStore;
  callbacks: CallbackService;
  /** Where status URLs point when the job did not come over HTTP (WEBSITE_HOSTNAME in Azure). */
  publicOrigin?: string | undefined;
}

export const statusUrlFor = (ref: JobRef, origin: string | undefined) =>
  origin
    ? `${origin}/api/notifications/${encodeURIComponent(ref.jobId)}?${new URLSearchParams({ tenantId: ref.tenantId })}`
    : undefined;

/** The job's totals when every recipient has a final outcome, else undefined. */
export async function finalTotals(
  job: JobRecord,
  d: Pick<CompletionDeps, 'deliveryRecords' | 'counters'>,
): Promise<Record<string, number> | undefined> {
  let counts: Counts;
  let recipients: number;
  if (job.audience) {
    if (!job.expansion?.done) return undefined;
    counts = await d.counters.totals(job.tenantId, job.jobId);
    recipients = job.expansion.queued;
  } else {
    counts = emptyCounts();
    const records = await d.deliveryRecords.listForJob(job.tenantId, job.jobId);
    const byRecipient = new Map(records.map((r) => [r.recipient, r]));
    for (const recipient of job.recipients) addCounts(counts, countsOf(byRecipient.get(recipient)));
    recipients = job.recipients.length;
  }
  const final = FINAL_KINDS.reduce((n, k) => n + counts[k], 0);
  if (final < recipients) return undefined;
  return { recipients, pending: 0, ...counts };
}

/** Queues JobCompleted once the job is complete; true when this call queued it. */
export async function checkCompletion(ref: JobRef, d: CompletionDeps): Promise<boolean> {
  const job = await d.jobs.get(ref.tenantId, ref.jobId);
  if (!job?.callbackUrl || job.completedAt || !job.etag) return false;
  const totals = await finalTotals(job, d);
  if (!totals) return false;
  const statusUrl = statusUrlFor(ref, job.origin ?? d.publicOrigin);
  await d.callbacks.enqueue('completed', ref, job.callbackUrl, { ...ref, statusUrl, totals });
  await d.jobs.markCompleted(ref.tenantId, ref.jobId, new Date().toISOString(), job.etag);
  return true;
}
