import type { TableClient } from '@azure/data-tables';
import pMap from 'p-map';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableClient } from '../shared/azureStorage/connection.js';
import { deliveryRow, partitionOf } from '../shared/azureStorage/conversationRows.js';
import { CounterCache, COUNTER_CACHE_POLICY } from '../shared/azureStorage/counterCache.js';
import { counterTotals, writeDeliveryRow } from '../shared/azureStorage/countedWrite.js';
import { LazyTable } from '../shared/azureStorage/table.js';
import { TableDeliveryRecordStore } from '../shared/azureStorage/tableDeliveryRecordStore.js';
import { COUNTER_SHARDS, countsOf, emptyCounts, addCounts } from '../shared/jobs/outcomeCounts.js';
import { startAzurite, type Azurite } from './support/azurite.js';

/**
 * An audience job's counter rows (countedWrite.ts) are written from what this process last wrote,
 * not read before each outcome: one storage request fewer per delivery. Another instance writing the
 * same rows makes that stale; the totals stay right, and where it keeps happening the process reads
 * first again. The policy first (no Azurite), then the adapter on real Azurite.
 */

describe('the counter cache’s policy', () => {
  const row = { etag: 'W/"1"', sent: 3 };

  it('hands a remembered row to one write only, and forgets the oldest beyond its size', () => {
    const cache = new CounterCache({ ...COUNTER_CACHE_POLICY, maxRows: 2 });
    cache.remember('a', row);
    expect(cache.take('a')).toEqual(row);
    expect(cache.take('a')).toBeUndefined();
    cache.remember('a', row);
    cache.remember('b', row);
    cache.remember('c', row);
    expect([cache.take('a'), cache.take('b'), cache.take('c')]).toEqual([undefined, row, row]);
  });

  it('stands aside for a while once remembered rows keep proving stale, then tries again', () => {
    let now = 0;
    const cache = new CounterCache(COUNTER_CACHE_POLICY, () => now);
    // A rare miss (two writes of this process on one row at once) changes nothing.
    for (let i = 0; i < 50; i++) cache.used(i === 25);
    expect(cache.active).toBe(true);
    // Another instance writing the same rows: a few misses in a row.
    cache.remember('a', row);
    for (let i = 0; i < 3; i++) cache.used(true);
    expect(cache.active).toBe(false);
    expect(cache.take('a')).toBeUndefined();
    cache.remember('a', row);
    expect(cache.take('a')).toBeUndefined();
    now += COUNTER_CACHE_POLICY.pauseMs;
    cache.remember('a', row);
    expect(cache.take('a')).toEqual(row);
  });
});

describe('counted writes on Azurite', () => {
  const tenantId = 'contoso-counters';
  const pk = partitionOf(tenantId);
  let azurite: Azurite;
  let raw: TableClient;
  let counterReads = 0;
  let table: TableClient;

  beforeAll(async () => {
    azurite = await startAzurite();
    raw = tableClient({ connectionString: azurite.connectionString }, 'Conversations');
    await raw.createTable();
    // Counts the point reads of counter rows, as a storage log would.
    table = new Proxy(raw, {
      get(target, name, receiver) {
        if (name === 'getEntity') {
          return (partitionKey: string, rowKey: string, ...rest: unknown[]) => {
            if (rowKey.startsWith('count|')) counterReads++;
            return target.getEntity(partitionKey, rowKey, ...(rest as []));
          };
        }
        const value = Reflect.get(target, name, receiver) as unknown;
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
  });
  afterAll(async () => {
    await azurite?.stop();
  });

  /** One delivery's final outcome, written as the delivery records store writes it. */
  const outcome = (cache: CounterCache, jobId: string, i: number, status: 'sent' | 'failed') => {
    const recipient = `userId:29:u-${i}`;
    return writeDeliveryRow(
      table,
      {
        entity: { partitionKey: pk, rowKey: deliveryRow(jobId, recipient), jobId, recipient, status },
        record: { jobId, recipient, counted: true },
        before: undefined,
        after: { status },
      },
      cache,
    );
  };

  /** The job's totals as its records say, read as a named job's status reads them. */
  const recordsTotal = async (jobId: string) => {
    const total = emptyCounts();
    const records = new TableDeliveryRecordStore(new LazyTable(raw));
    for (const r of await records.listForJob(tenantId, jobId)) addCounts(total, countsOf(r));
    return total;
  };

  it('reads each counter row at most once for a job’s outcomes from one process', async () => {
    const jobId = 'one-process';
    const cache = new CounterCache();
    counterReads = 0;
    await pMap(
      Array.from({ length: 400 }, (_, i) => i),
      (i) => outcome(cache, jobId, i, i % 10 === 0 ? 'failed' : 'sent'),
      { concurrency: 8 },
    );
    expect(await counterTotals(raw, pk, jobId)).toEqual({ ...emptyCounts(), sent: 360, failed: 40 });
    // Without the cache: one read per outcome (400). With it: one per shard, and a rare retry
    // when two of the 8 writes at once counted on the same row.
    expect(counterReads).toBeLessThan(COUNTER_SHARDS + 40);
  });

  it('keeps the totals right when another instance writes the same counter rows, and reads first again', async () => {
    const jobId = 'two-instances';
    const [mine, theirs] = [new CounterCache(), new CounterCache()];
    await pMap(
      Array.from({ length: 300 }, (_, i) => i),
      (i) => outcome(i % 2 ? mine : theirs, jobId, i, 'sent'),
      { concurrency: 6 },
    );
    expect(await counterTotals(raw, pk, jobId)).toEqual(await recordsTotal(jobId));
    expect((await counterTotals(raw, pk, jobId)).sent).toBe(300);
    // Each instance found its remembered rows moved by the other, and stood aside.
    expect([mine.active, theirs.active]).toEqual([false, false]);
  });
});
