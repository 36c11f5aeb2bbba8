import type { CallbackEvent } from '../callbacks/event.js';
import type { CallbackRecord, CallbackStore } from '../callbacks/port.js';
import type { JobRef } from '../stores/jobs.js';
import { getOrUndefined, isConflict, type LazyTable } from './table.js';
import { jobPartition } from './tableJobStore.js';

/** Callback rows `callback|completed` and `callback|rejected` in the job's partition of `Jobs`. */
const EVENTS: readonly CallbackEvent[] = ['completed', 'rejected'];
type Row = Partial<CallbackRecord> & { token?: string };

export class TableCallbackStore implements CallbackStore {
  constructor(private readonly table: LazyTable) {}

  async claim(ref: JobRef, event: CallbackEvent, token: string, url: string) {
    const table = await this.table.client();
    const key = { partitionKey: jobPartition(ref.tenantId, ref.jobId), rowKey: `callback|${event}` };
    const fresh = { event, url, state: 'sending' as const, attempts: 0, updatedAt: new Date().toISOString() };
    try {
      // The conditional insert (If-None-Match): only one message ever owns the event.
      await table.createEntity({ ...key, ...fresh, token });
      return fresh;
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
    const row = await getOrUndefined<Row>(table, key.partitionKey, key.rowKey);
    return row?.token === token ? recordOf(row) : undefined;
  }

  async save(ref: JobRef, event: CallbackEvent, fields: Partial<CallbackRecord>): Promise<void> {
    const table = await this.table.client();
    const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
    await table.updateEntity(
      {
        partitionKey: jobPartition(ref.tenantId, ref.jobId),
        rowKey: `callback|${event}`,
        ...defined,
        updatedAt: new Date().toISOString(),
      },
      'Merge',
    );
  }

  async list(ref: JobRef): Promise<CallbackRecord[]> {
    const table = await this.table.client();
    const partition = jobPartition(ref.tenantId, ref.jobId);
    const rows = await Promise.all(EVENTS.map((e) => getOrUndefined<Row>(table, partition, `callback|${e}`)));
    return rows.flatMap((r) => (r ? [recordOf(r)] : []));
  }
}

function recordOf(row: Row): CallbackRecord {
  return {
    event: row.event as CallbackEvent,
    url: String(row.url ?? ''),
    state: row.state ?? 'sending',
    attempts: Number(row.attempts ?? 0),
    lastStatus: typeof row.lastStatus === 'number' ? row.lastStatus : undefined,
    lastError: row.lastError || undefined,
    nextAttemptAt: row.nextAttemptAt || undefined,
    deliveredAt: row.deliveredAt || undefined,
    updatedAt: String(row.updatedAt ?? ''),
  };
}
