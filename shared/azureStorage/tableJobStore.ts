import {
  getOrUndefined,
  isConflict,
  mergeIfUnchanged,
  keyPart,
  packJson,
  unpackJson,
  type LazyTable,
} from './table.js';

import type { ExpansionState } from '../jobs/audience.js';
import { isLane } from '../delivery/lanes.js';
import type { ProducerRef } from '../auth/roles.js';
import type {
  JobRecord,
  JobStore,
  RecentRejection,
  RejectedJob,
  RejectedJobStore,
  RejectionSummary,
} from '../stores/jobs.js';

/**
 * Job records (table `Jobs`, PartitionKey = tenant and job ID, see jobPartition): what was accepted,
 * for status and idempotency.
 */

type Row = Record<string, unknown>;

/**
 * A job's partition in the `Jobs` table: its tenant (lower case) and its ID, each URI-encoded, so
 * the same job ID in two tenants is two jobs and a read names both. Its rows: `job` (here) and
 * `content`, `changes` (tableJobContentStore.ts).
 */
export const jobPartition = (tenantId: string, jobId: string) =>
  `${keyPart(tenantId.toLowerCase())}|${keyPart(jobId)}`;

export class TableJobStore implements JobStore {
  constructor(private readonly table: LazyTable) {}

  /** Inserts the job; if one with this ID exists, returns it instead (the caller compares hashes). */
  async createOrGet(job: JobRecord): Promise<{ created: boolean; job: JobRecord }> {
    const table = await this.table.client();
    const { recipients, audience, expansion, producer, etag: _etag, ...rest } = job;
    try {
      const created = await table.createEntity({
        partitionKey: jobPartition(job.tenantId, job.jobId),
        rowKey: 'job',
        ...stripUndefined(rest),
        total: recipients.length,
        ...packJson('recipients', recipients),
        ...(audience ? { audience: JSON.stringify(audience) } : {}),
        ...(expansion ? { expansion: JSON.stringify(expansion) } : {}),
        ...(producer ? { producer: JSON.stringify(producer) } : {}),
      });
      return { created: true, job: { ...job, etag: created.etag } };
    } catch (err) {
      if (!isConflict(err)) throw err;
      const existing = await this.get(job.tenantId, job.jobId);
      if (!existing) throw err;
      return { created: false, job: existing };
    }
  }

  async get(tenantId: string, jobId: string): Promise<JobRecord | undefined> {
    const table = await this.table.client();
    const row = await getOrUndefined<Row>(table, jobPartition(tenantId, jobId), 'job');
    if (!row) return undefined;
    return {
      jobId: String(row.jobId),
      tenantId: String(row.tenantId),
      recipients: unpackJson<string[]>(row, 'recipients') ?? [],
      contentHash: String(row.contentHash),
      ...(isLane(row.priority) ? { priority: row.priority } : {}),
      acceptedAt: String(row.acceptedAt),
      source: String(row.source ?? ''),
      notBefore: (row.notBefore as string) || undefined,
      expiresAt: (row.expiresAt as string) || undefined,
      fannedOutAt: (row.fannedOutAt as string) || undefined,
      ...(row.audience ? { audience: JSON.parse(String(row.audience)) as JobRecord['audience'] } : {}),
      ...(row.expansion ? { expansion: JSON.parse(String(row.expansion)) as ExpansionState } : {}),
      ...(row.producer ? { producer: JSON.parse(String(row.producer)) as ProducerRef } : {}),
      callbackUrl: (row.callbackUrl as string) || undefined,
      origin: (row.origin as string) || undefined,
      completedAt: (row.completedAt as string) || undefined,
      etag: String(row.etag ?? ''),
    };
  }

  async saveExpansion(
    tenantId: string,
    jobId: string,
    state: ExpansionState,
    etag: string,
  ): Promise<string | undefined> {
    const table = await this.table.client();
    const entity = {
      partitionKey: jobPartition(tenantId, jobId),
      rowKey: 'job',
      expansion: JSON.stringify(state),
    };
    return mergeIfUnchanged(table, entity, etag);
  }

  async markCompleted(tenantId: string, jobId: string, at: string, etag: string): Promise<boolean> {
    const table = await this.table.client();
    const entity = { partitionKey: jobPartition(tenantId, jobId), rowKey: 'job', completedAt: at };
    return (await mergeIfUnchanged(table, entity, etag)) !== undefined;
  }

  async markFannedOut(tenantId: string, jobId: string): Promise<void> {
    const table = await this.table.client();
    await table.updateEntity(
      { partitionKey: jobPartition(tenantId, jobId), rowKey: 'job', fannedOutAt: new Date().toISOString() },
      'Merge',
    );
  }
}

const BY_JOB = 'byJob';

function parseErrors(value: unknown): string[] {
  try {
    const parsed = JSON.parse(String(value)) as unknown;
    return Array.isArray(parsed) ? parsed.map(String) : [];
  } catch {
    return [];
  }
}

/**
 * Jobs that failed validation, kept with their reason (table `RejectedJobs`, one partition per day,
 * newest first), and the latest rejection per tenant and job ID (partition `byJob`, RowKey as the
 * job's partition in `Jobs`) for status lookups.
 */
export class TableRejectedJobStore implements RejectedJobStore {
  constructor(private readonly table: LazyTable) {}

  async add(rejected: RejectedJob): Promise<string> {
    const table = await this.table.client();
    const now = new Date();
    // Newest first within a day: inverted timestamp, then a random suffix against collisions.
    const rowKey = `${(8_640_000_000_000_000 - now.getTime()).toString().padStart(16, '0')}-${Math.random().toString(36).slice(2, 10)}`;
    await table.createEntity({
      partitionKey: now.toISOString().slice(0, 10),
      rowKey,
      reason: rejected.reason,
      errors: JSON.stringify(rejected.errors).slice(0, 30_000),
      source: rejected.source,
      jobId: rejected.jobId ?? '',
      tenantId: rejected.tenantId ?? '',
      queueMessageId: rejected.queueMessageId ?? '',
      body: rejected.body.slice(0, 30_000),
      rejectedAt: now.toISOString(),
    });
    if (rejected.jobId && rejected.tenantId) {
      // The latest rejection per tenant and job ID, so a producer's status lookup finds it with one point read.
      await table.upsertEntity(
        {
          partitionKey: BY_JOB,
          rowKey: jobPartition(rejected.tenantId, rejected.jobId),
          jobId: rejected.jobId,
          tenantId: rejected.tenantId.toLowerCase(),
          reason: rejected.reason,
          errors: JSON.stringify(rejected.errors).slice(0, 30_000),
          source: rejected.source,
          rejectedAt: now.toISOString(),
        },
        'Replace',
      );
    }
    return rowKey;
  }

  async getForJob(tenantId: string, jobId: string): Promise<RejectionSummary | undefined> {
    const table = await this.table.client();
    const row = await getOrUndefined<Row>(table, BY_JOB, jobPartition(tenantId, jobId));
    if (!row) return undefined;
    return {
      reason: String(row.reason),
      errors: parseErrors(row.errors),
      source: String(row.source ?? ''),
      rejectedAt: String(row.rejectedAt),
    };
  }

  /** Rejections of the last `days` days (today included), newest first. */
  async recent(days: number, limit = 100): Promise<RecentRejection[]> {
    const out: RecentRejection[] = [];
    for (let i = 0; i < days && out.length < limit; i++) {
      const day = new Date(Date.now() - i * 86_400_000).toISOString().slice(0, 10);
      for (const row of await this.list(day)) {
        out.push({
          jobId: (row.jobId as string) || undefined,
          tenantId: (row.tenantId as string) || undefined,
          reason: String(row.reason),
          errors: parseErrors(row.errors),
          source: String(row.source ?? ''),
          rejectedAt: String(row.rejectedAt),
        });
        if (out.length >= limit) break;
      }
    }
    return out;
  }

  private async list(day: string): Promise<Array<Record<string, unknown>>> {
    const table = await this.table.client();
    const out: Array<Record<string, unknown>> = [];
    const rows = table.listEntities<Row>({
      queryOptions: { filter: `PartitionKey eq '${day.replace(/'/g, "''")}'` },
    });
    for await (const row of rows) out.push(row);
    return out;
  }
}

function stripUndefined<T extends object>(value: T): Record<string, string> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Record<
    string,
    string
  >;
}
