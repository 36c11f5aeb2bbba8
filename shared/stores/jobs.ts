/**
 * The job store ports: accepted jobs (for status and idempotency) and rejected ones (with their
 * reason). Table Storage adapters: azureStorage/tableJobStore.ts.
 */

export interface JobRecord {
  jobId: string;
  tenantId: string;
  recipients: string[];
  /** Hash of the job's content: the same ID with different content is refused. */
  contentHash: string;
  acceptedAt: string;
  source: string;
  notBefore?: string | undefined;
  expiresAt?: string | undefined;
  fannedOutAt?: string | undefined;
}

export interface JobStore {
  /** Inserts the job; if one with this ID exists, returns it instead (the caller compares hashes). */
  createOrGet(job: JobRecord): Promise<{ created: boolean; job: JobRecord }>;
  get(jobId: string): Promise<JobRecord | undefined>;
  markFannedOut(jobId: string): Promise<void>;
}

export interface RejectedJob {
  reason: string;
  errors: string[];
  source: string;
  jobId?: string | undefined;
  queueMessageId?: string | undefined;
  body: string;
}

/** What a job's status shows of its latest rejection. */
export interface RejectionSummary {
  reason: string;
  errors: string[];
  source: string;
  rejectedAt: string;
}

export interface RejectedJobStore {
  add(rejected: RejectedJob): Promise<string>;
  /** The latest rejection of a job ID (one point read). */
  getForJob(jobId: string): Promise<RejectionSummary | undefined>;
  /** Rejections of the last `days` days (today included), newest first. */
  recent(days: number, limit?: number): Promise<Array<RejectionSummary & { jobId?: string | undefined }>>;
}
