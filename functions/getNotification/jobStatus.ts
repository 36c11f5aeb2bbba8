import type {
  DeliveryRecord,
  DeliveryRecordStore,
  DeliveryStatus,
} from '../../shared/stores/deliveryRecords.js';
import type { JobStore, RejectedJobStore, RejectionSummary } from '../../shared/stores/jobs.js';
import type { JobContentStore } from '../../shared/stores/jobContent.js';
import {
  contentSummary,
  countFollowUps,
  emptyFollowUpTotals,
  FINAL_STATUSES,
  followUpFieldsOf,
  shownStatus,
  type FollowUpTotals,
} from './followUpStatus.js';

/** A job's per-recipient outcomes and totals, as shown by the status API and `npm run status`. */

interface RecipientStatus {
  recipient: string;
  status: DeliveryStatus;
  reason?: string | undefined;
  detail?: string | undefined;
  activityId?: string | undefined;
  conversationId?: string | undefined;
  attempts: number;
  completedAt?: string | undefined;
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
  /** True once every recipient has a final outcome. */
  complete: boolean;
  totals: Record<'recipients' | 'sent' | 'failed' | 'skipped' | 'pending', number> & FollowUpTotals;
  /** The content revision recipients see now (0: as accepted), and when the job was recalled. */
  revision?: number;
  revisedAt?: string;
  recalledAt?: string;
  acknowledge?: boolean;
  recipients: RecipientStatus[];
  /** Set when the job was refused (never accepted): nothing was or will be sent. */
  rejected?: boolean;
  reason?: string;
  errors?: string[];
  rejectedAt?: string;
  /** For an accepted job: the latest submission with this ID that was refused (e.g. different content). */
  lastRejection?: RejectionSummary;
}

export async function getJobStatus(
  jobId: string,
  stores: {
    jobs: JobStore;
    deliveryRecords: DeliveryRecordStore;
    rejected?: RejectedJobStore;
    contents?: JobContentStore;
  },
): Promise<JobStatus | undefined> {
  const [job, rejection, content] = await Promise.all([
    stores.jobs.get(jobId),
    stores.rejected?.getForJob(jobId),
    stores.contents?.get(jobId),
  ]);
  if (!job) {
    if (!rejection) return undefined;
    return {
      jobId,
      tenantId: '',
      acceptedAt: '',
      source: rejection.source,
      complete: true,
      totals: { recipients: 0, sent: 0, failed: 0, skipped: 0, pending: 0, ...emptyFollowUpTotals() },
      recipients: [],
      rejected: true,
      reason: rejection.reason,
      errors: rejection.errors,
      rejectedAt: rejection.rejectedAt,
    };
  }
  const records = new Map(
    (await stores.deliveryRecords.listForJob(job.tenantId, jobId)).map((r) => [r.recipient, r]),
  );
  const totals = {
    recipients: job.recipients.length,
    sent: 0,
    failed: 0,
    skipped: 0,
    pending: 0,
    ...emptyFollowUpTotals(),
  };
  const recipients = job.recipients.map((recipient): RecipientStatus => {
    const r = records.get(recipient);
    const status: DeliveryStatus = shownStatus(r);
    if (status === 'sent' || status === 'failed' || status === 'skipped') totals[status] += 1;
    else if (!(FINAL_STATUSES as readonly string[]).includes(status)) totals.pending += 1;
    countFollowUps(totals, r);
    return {
      recipient,
      status,
      reason: r?.reason,
      detail: r?.detail,
      activityId: r?.activityId,
      conversationId: r?.conversationId,
      attempts: r?.attempts ?? 0,
      completedAt: r?.completedAt,
      ...followUpFieldsOf(r),
    };
  });
  return {
    jobId,
    tenantId: job.tenantId,
    acceptedAt: job.acceptedAt,
    source: job.source,
    complete: totals.pending === 0,
    totals,
    ...contentSummary(content),
    recipients,
    ...(rejection ? { lastRejection: rejection } : {}),
  };
}
