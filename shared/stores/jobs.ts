import type { Counts } from '../jobs/outcomeCounts.js';
import type { Audience, ExpansionState } from '../jobs/audience.js';
import type { ProducerRef } from '../auth/roles.js';
import type { Lane } from '../delivery/lanes.js';

/**
 * The job store ports: accepted jobs (for status and idempotency) and rejected ones (with their
 * reason). Table Storage adapters: azureStorage/tableJobStore.ts.
 */

/** A job is named by its tenant and its ID together (jobs are scoped by tenant). */
export interface JobRef {
  tenantId: string;
  jobId: string;
}

export interface JobRecord {
  jobId: string;
  tenantId: string;
  recipients: string[];
  /** Hash of the job's content: the same ID with different content is refused. */
  contentHash: string;
  /** The lane its deliveries run in (jobs/priority.ts: as asked, or the default for its size). */
  priority?: Lane | undefined;
  acceptedAt: string;
  source: string;
  notBefore?: string | undefined;
  expiresAt?: string | undefined;
  fannedOutAt?: string | undefined;
  /** Audience jobs only: the teams and allUsers named, and how far their expansion got. */
  audience?: Audience | undefined;
  expansion?: ExpansionState | undefined;
  /** Who sent it over HTTP (its token's app and object IDs, or the key); none when it came on the queue. */
  producer?: ProducerRef | undefined;
  /** Where its CloudEvents go (shared/callbacks/). */
  callbackUrl?: string | undefined;
  /** The origin its status URL was answered with (HTTP), for the callbacks' status URL. */
  origin?: string | undefined;
  /** When a completion check first found every recipient with an outcome (callback jobs). */
  completedAt?: string | undefined;
  /** Version of the stored row, for saveExpansion. */
  etag?: string | undefined;
}

/**
 * Jobs are scoped by tenant: a job is named by its tenant and its ID together, so the same ID in
 * two tenants is two jobs, and nothing reads or changes a job without naming its tenant.
 */
export interface JobStore {
  /** Inserts the job; if one with this tenant and ID exists, returns it instead (the caller compares hashes). */
  createOrGet(job: JobRecord): Promise<{ created: boolean; job: JobRecord }>;
  get(tenantId: string, jobId: string): Promise<JobRecord | undefined>;
  markFannedOut(tenantId: string, jobId: string): Promise<void>;
  /** Records when the job was found complete, if nobody did (the row still at `etag`); false otherwise. */
  markCompleted(tenantId: string, jobId: string, at: string, etag: string): Promise<boolean>;
  /**
   * Saves an audience expansion checkpoint if the job row is still at `etag`; returns the new etag,
   * or undefined when someone else moved it (another worker took the expansion over).
   */
  saveExpansion(
    tenantId: string,
    jobId: string,
    state: ExpansionState,
    etag: string,
  ): Promise<string | undefined>;
}

/**
 * Per-job totals of audience jobs (outcomes and follow-ups), so a status read never lists every
 * delivery record. The delivery record and follow-up stores keep them: each write of a counted
 * record counts what it changed, atomically with the record (jobs/outcomeCounts.ts).
 */
export interface JobCounterStore {
  totals(tenantId: string, jobId: string): Promise<Counts>;
}

export interface RejectedJob {
  reason: string;
  errors: string[];
  source: string;
  jobId?: string | undefined;
  /** The job's tenant when the job named a well-formed one: its status lookup is by tenant and ID. */
  tenantId?: string | undefined;
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

export type RecentRejection = RejectionSummary & {
  jobId?: string | undefined;
  tenantId?: string | undefined;
};

export interface RejectedJobStore {
  add(rejected: RejectedJob): Promise<string>;
  /** The latest rejection of a job ID in a tenant (one point read). */
  getForJob(tenantId: string, jobId: string): Promise<RejectionSummary | undefined>;
  /** Rejections of the last `days` days (today included), newest first. */
  recent(days: number, limit?: number): Promise<RecentRejection[]>;
}
