import type { NotificationMessage } from '../jobs/contract.js';
import {
  recallField,
  sendsStopped,
  type ContentChange,
  type FanOut,
  type JobContent,
  type JobContentStore,
  type NewJobContent,
  type RecallStage,
} from '../stores/jobContent.js';
import {
  getOrUndefined,
  isConflict,
  mergeIfUnchanged,
  isPreconditionFailed,
  packJson,
  unpackJson,
  type LazyTable,
} from './table.js';
import { jobPartition } from './tableJobStore.js';

/** A job's current content: row `content` in the job's partition (tenant and ID) of the `Jobs` table. */

const ROW = 'content';
const FAN_OUT_ROW = 'changes';
type Row = Record<string, unknown> & { etag?: string };

export class TableJobContentStore implements JobContentStore {
  constructor(private readonly table: LazyTable) {}

  async get(tenantId: string, jobId: string): Promise<JobContent | undefined> {
    const table = await this.table.client();
    const row = await getOrUndefined<Row>(table, jobPartition(tenantId, jobId), ROW);
    if (!row) return undefined;
    return {
      jobId: String(row.jobId),
      tenantId: String(row.tenantId),
      revision: Number(row.revision ?? 0),
      message: unpackJson<NotificationMessage>(row, 'message') ?? {},
      acknowledgeTitle: (row.acknowledgeTitle as string) || undefined,
      revisedAt: (row.revisedAt as string) || undefined,
      recallRequestedAt: (row.recallRequestedAt as string) || undefined,
      recalledAt: (row.recalledAt as string) || undefined,
      etag: String(row.etag ?? ''),
    };
  }

  async ensure(content: NewJobContent): Promise<void> {
    const table = await this.table.client();
    try {
      await table.createEntity({
        partitionKey: jobPartition(content.tenantId, content.jobId),
        rowKey: ROW,
        jobId: content.jobId,
        tenantId: content.tenantId,
        revision: 0,
        acknowledgeTitle: content.acknowledgeTitle ?? '',
        ...packJson('message', content.message),
      });
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }

  async revise(current: JobContent, message: NotificationMessage): Promise<ContentChange> {
    if (sendsStopped(current)) return { ok: false, reason: 'Recalled' };
    const revisedAt = new Date().toISOString();
    const fields = { revision: current.revision + 1, revisedAt, ...packJson('message', message) };
    return this.write(current, fields, { ...current, revision: current.revision + 1, revisedAt, message });
  }

  async recall(current: JobContent, stage: RecallStage): Promise<ContentChange> {
    const field = recallField[stage];
    if (current[field]) return { ok: true, content: current };
    const at = new Date().toISOString();
    return this.write(current, { [field]: at }, { ...current, [field]: at });
  }

  async fanOut(tenantId: string, jobId: string): Promise<FanOut | undefined> {
    const table = await this.table.client();
    const row = await getOrUndefined<Row>(table, jobPartition(tenantId, jobId), FAN_OUT_ROW);
    if (!row) return undefined;
    return { ...(JSON.parse(String(row.state)) as FanOut), etag: String(row.etag ?? '') };
  }

  async saveFanOut(
    tenantId: string,
    jobId: string,
    state: FanOut,
    etag?: string,
  ): Promise<string | undefined> {
    const table = await this.table.client();
    const { etag: _etag, ...fields } = state;
    const entity = {
      partitionKey: jobPartition(tenantId, jobId),
      rowKey: FAN_OUT_ROW,
      state: JSON.stringify(fields),
    };
    if (etag) return mergeIfUnchanged(table, entity, etag);
    return (await table.upsertEntity(entity, 'Replace')).etag ?? '';
  }

  private async write(
    current: JobContent,
    fields: Record<string, string | number>,
    next: JobContent,
  ): Promise<ContentChange> {
    const table = await this.table.client();
    try {
      const result = await table.updateEntity(
        { partitionKey: jobPartition(current.tenantId, current.jobId), rowKey: ROW, ...fields },
        'Merge',
        { etag: current.etag },
      );
      return { ok: true, content: { ...next, etag: result.etag ?? '' } };
    } catch (err) {
      if (isPreconditionFailed(err)) return { ok: false, reason: 'Conflict' };
      throw err;
    }
  }
}
