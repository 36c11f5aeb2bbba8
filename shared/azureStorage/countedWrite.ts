import type { TableClient, TransactionAction } from '@azure/data-tables';
import {
  addCounts,
  COUNT_KINDS,
  countDelta,
  counterShard,
  emptyCounts,
  type Counts,
} from '../jobs/outcomeCounts.js';
import type { DeliveryRecord } from '../stores/deliveryRecords.js';
import { processCounterCache, type CounterCache, type CounterRow } from './counterCache.js';
import {
  getOrUndefined,
  isConflict,
  isNotFound,
  isPreconditionFailed,
  keyPart,
  listByPrefix,
} from './table.js';

/**
 * Audience jobs' counter rows `count|<jobId>|<shard>` sit in the tenant's Conversations partition,
 * beside the delivery records they count, so a record write and the counting of what it changed
 * commit in one entity-group transaction: a crash leaves both or neither.
 */

type Row = Record<string, unknown> & { etag?: string };
type Entity = Record<string, string | number | boolean> & { partitionKey: string; rowKey: string };
type Countable = Parameters<typeof countDelta>[0];

export const counterPrefix = (jobId: string) => `count|${keyPart(jobId)}|`;
const counterRow = (jobId: string, recipient: string) =>
  counterPrefix(jobId) + String(counterShard(recipient)).padStart(2, '0');

const countsOfRow = (row: Row | undefined): Counts =>
  Object.fromEntries(COUNT_KINDS.map((k) => [k, Number(row?.[k] ?? 0)])) as Counts;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Writes one delivery row: creates it (no `etag`) or merges it if still at `etag`. A counted record
 * (an audience job's) also adds what the write changes to its job's counters, in the same
 * transaction, starting from the counter row as this process last wrote it where it remembers it
 * (counterCache.ts). Returns the row's new ETag, or undefined when the row exists (create) or moved
 * (merge): another write stands, and it counted itself.
 */
export async function writeDeliveryRow(
  table: TableClient,
  o: {
    entity: Entity;
    etag?: string | undefined;
    record: Pick<DeliveryRecord, 'jobId' | 'recipient'> & { counted?: boolean | undefined };
    before: Countable | undefined;
    after: Countable;
    /** Rows of the same partition to upsert with the write (the chat index of a sent message). */
    also?: Entity[] | undefined;
  },
  cache: CounterCache = processCounterCache,
): Promise<string | undefined> {
  const delta = o.record.counted ? countDelta(o.before, o.after) : undefined;
  const write: TransactionAction =
    o.etag === undefined ? ['create', o.entity] : ['update', o.entity, 'Merge', { etag: o.etag }];
  const also = (o.also ?? []).map((row): TransactionAction => ['upsert', row, 'Replace']);
  const pk = o.entity.partitionKey;
  const rowKey = counterRow(o.record.jobId, o.record.recipient);
  const cacheKey = `${table.url}|${pk}|${rowKey}`;
  for (let attempt = 0; attempt < 20; attempt++) {
    let remembered: CounterRow | undefined;
    try {
      if (!delta && !also.length) {
        const done =
          o.etag === undefined
            ? await table.createEntity(o.entity)
            : await table.updateEntity(o.entity, 'Merge', { etag: o.etag });
        return done.etag ?? '';
      }
      const counted: TransactionAction[] = [];
      let counter: Entity | undefined;
      if (delta) {
        remembered = cache.take(cacheKey);
        const row = remembered ?? (await getOrUndefined<Row>(table, pk, rowKey));
        counter = { partitionKey: pk, rowKey, ...addCounts(countsOfRow(row), delta) };
        counted.push(row ? ['update', counter, 'Replace', { etag: String(row.etag) }] : ['create', counter]);
      }
      const result = await table.submitTransaction([write, ...counted, ...also]);
      if (remembered) cache.used(false);
      const counterEtag = result.subResponses[1]?.etag;
      if (counter && counterEtag) cache.remember(cacheKey, { ...counter, etag: counterEtag });
      return result.subResponses[0]?.etag ?? '';
    } catch (err) {
      if (remembered && isNotFound(err)) {
        // The remembered counter row is gone (or the record is): try again from what is stored.
        cache.used(true);
        continue;
      }
      if (!isConflict(err) && !isPreconditionFailed(err)) throw err;
      // Either row may have moved: the delivery row means another write won; the counter, retry.
      const current = await getOrUndefined<Row>(table, pk, o.entity.rowKey);
      const won = o.etag === undefined ? current : current?.etag !== o.etag;
      if (remembered) cache.used(!won);
      if (!delta || won) return undefined;
      // A remembered row that moved is read on the next attempt; a row just read moved under another writer.
      if (!remembered) await sleep(Math.random() * 20 * (attempt + 1));
    }
  }
  throw new Error(`Too much contention counting outcomes of job ${o.record.jobId}`);
}

/** A job's totals: the sum of its counter rows (one range read of at most COUNTER_SHARDS rows). */
export async function counterTotals(table: TableClient, pk: string, jobId: string): Promise<Counts> {
  const total = emptyCounts();
  for (const row of await listByPrefix<Row>(table, pk, counterPrefix(jobId)))
    addCounts(total, countsOfRow(row));
  return total;
}
