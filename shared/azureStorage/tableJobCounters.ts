import { createHash } from 'node:crypto';
import type { JobCounterStore, OutcomeKind } from '../stores/jobs.js';
import {
  getOrUndefined,
  isConflict,
  isPreconditionFailed,
  keyPart,
  listByPrefix,
  type LazyTable,
} from './table.js';

/**
 * Outcome counters of audience jobs in the `Jobs` table, beside the job row (PartitionKey = job ID):
 * rows `count|<shard>`. A recipient always counts on the same shard, so about 1/SHARDS of the
 * deliveries contend on a row; a status read sums SHARDS rows instead of listing every record.
 */

const SHARDS = 16;
const PREFIX = 'count|';
const KINDS: OutcomeKind[] = ['sent', 'failed', 'skipped'];

type Row = Record<string, unknown> & { etag?: string };

export class TableJobCounters implements JobCounterStore {
  constructor(private readonly table: LazyTable) {}

  async count(jobId: string, outcome: OutcomeKind, recipient: string): Promise<void> {
    const table = await this.table.client();
    const shard = createHash('sha1').update(recipient).digest().readUInt16BE(0) % SHARDS;
    const pk = keyPart(jobId);
    const rowKey = `${PREFIX}${String(shard).padStart(2, '0')}`;
    for (let attempt = 0; attempt < 20; attempt++) {
      const row = await getOrUndefined<Row>(table, pk, rowKey);
      try {
        if (!row) {
          await table.createEntity({
            partitionKey: pk,
            rowKey,
            sent: 0,
            failed: 0,
            skipped: 0,
            [outcome]: 1,
          });
        } else {
          const next = Number(row[outcome] ?? 0) + 1;
          await table.updateEntity({ partitionKey: pk, rowKey, [outcome]: next }, 'Merge', {
            etag: String(row.etag),
          });
        }
        return;
      } catch (err) {
        if (!isConflict(err) && !isPreconditionFailed(err)) throw err;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * (attempt + 1)));
      }
    }
    throw new Error(`Too much contention counting outcomes of job ${jobId}`);
  }

  async totals(jobId: string): Promise<Record<OutcomeKind, number>> {
    const table = await this.table.client();
    const totals: Record<OutcomeKind, number> = { sent: 0, failed: 0, skipped: 0 };
    for (const row of await listByPrefix<Row>(table, keyPart(jobId), PREFIX)) {
      for (const kind of KINDS) totals[kind] += Number(row[kind] ?? 0);
    }
    return totals;
  }
}
