import type { TableClient } from '@azure/data-tables';
import pMap from 'p-map';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableClient } from '../shared/azureStorage/connection.js';
import { LazyTable } from '../shared/azureStorage/table.js';
import { TableConversationStore } from '../shared/azureStorage/tableConversationStore.js';
import { TableDeliveryRecordStore } from '../shared/azureStorage/tableDeliveryRecordStore.js';
import { TableFollowUpStore } from '../shared/azureStorage/tableFollowUpStore.js';
import { TableJobCounters } from '../shared/azureStorage/tableJobCounters.js';
import {
  addCounts,
  countDelta,
  countsOf,
  emptyCounts,
  merged,
  type Counts,
} from '../shared/jobs/outcomeCounts.js';
import { recordWithoutClaim, type DeliveryRecord } from '../shared/stores/deliveryRecords.js';
import { TENANT } from './support/app.js';
import { seedUsers } from './support/audience.js';
import { startAzurite, type Azurite } from './support/azurite.js';

/**
 * Issue 15: an audience job's totals come from counter rows, and a record write counts what it
 * changed in the same transaction, so no crash or lost answer leaves an outcome counted twice or
 * not at all. Pure decisions first, then the Table adapter on real Azurite with faults injected
 * around the one write.
 */

const record = (fields: Partial<DeliveryRecord>): DeliveryRecord => ({
  jobId: 'j',
  recipient: 'userId:u',
  status: 'sending',
  attempts: 1,
  updatedAt: '',
  etag: '',
  ...fields,
});

describe('what a record write counts', () => {
  it('counts a final outcome once, moves sent to recalled, and nothing for a retry', () => {
    expect(countDelta(record({}), record({ status: 'sent' }))).toEqual({ sent: 1 });
    expect(countDelta(undefined, record({ status: 'skipped' }))).toEqual({ skipped: 1 });
    expect(countDelta(record({ status: 'sent' }), record({ status: 'recalled' }))).toEqual({
      sent: -1,
      recalled: 1,
    });
    expect(countDelta(record({}), record({ status: 'pending' }))).toBeUndefined();
    expect(countDelta(record({ status: 'sent' }), record({ status: 'sent' }))).toBeUndefined();
  });

  it('counts follow-ups when they first appear and a failed change until a later one clears it', () => {
    const sent = record({ status: 'sent', readAt: 't1' });
    expect(countDelta(sent, merged(sent, { acknowledgedAt: 't2' }))).toEqual({ acknowledged: 1 });
    expect(countDelta(sent, merged(sent, { readAt: 't3' }))).toBeUndefined();
    const failure = { op: 'update', revision: 1, reason: 'Poisoned', at: 't4' };
    const failed = merged(sent, { changeFailure: failure, changeClaim: '' });
    expect(countDelta(sent, failed)).toEqual({ changeFailed: 1 });
    const updated = merged(failed, { changeFailure: null, revisedAt: 't5', revision: 1 });
    expect(updated.changeFailure).toBeUndefined();
    expect(countDelta(failed, updated)).toEqual({ changeFailed: -1, updated: 1 });
  });

  it('sums to what the records hold, whatever order the writes came in', () => {
    const writes: Array<[DeliveryRecord | undefined, DeliveryRecord]> = [
      [undefined, record({})],
      [record({}), record({ status: 'sent' })],
      [record({ status: 'sent' }), record({ status: 'sent', readAt: 'r' })],
      [record({ status: 'sent', readAt: 'r' }), record({ status: 'recalled', readAt: 'r' })],
    ];
    const total = emptyCounts();
    for (const [before, after] of writes) addCounts(total, countDelta(before, after) ?? {});
    expect(total).toEqual(countsOf(record({ status: 'recalled', readAt: 'r' })));
  });
});

describe('counter rows on Azurite', () => {
  let azurite: Azurite;
  let raw: TableClient;
  /** What happens to the next counting transactions: lost on the way, or landed with the answer lost. */
  const faults: Array<'before' | 'after'> = [];

  const transient = () => Object.assign(new Error('socket hang up'), { name: 'RestError' });
  const faulty = () =>
    new Proxy(raw, {
      get(target, name, receiver) {
        if (name === 'submitTransaction') {
          return async (...args: Parameters<TableClient['submitTransaction']>) => {
            // Only the writes that count (a claim's transaction is not one of them).
            const counts = args[0].some((a) => String(a[1].rowKey).startsWith('count|'));
            const fault = counts ? faults.shift() : undefined;
            if (fault === 'before') throw transient();
            const answer = await target.submitTransaction(...args);
            if (fault === 'after') throw transient();
            return answer;
          };
        }
        const value = Reflect.get(target, name, receiver) as unknown;
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });

  let records: TableDeliveryRecordStore;
  let followUps: TableFollowUpStore;
  let counters: TableJobCounters;
  let users: TableConversationStore;

  beforeAll(async () => {
    azurite = await startAzurite();
    raw = tableClient({ connectionString: azurite.connectionString }, 'Conversations');
    const table = new LazyTable(faulty());
    records = new TableDeliveryRecordStore(table);
    followUps = new TableFollowUpStore(table);
    counters = new TableJobCounters(table);
    users = new TableConversationStore(table);
  });
  afterAll(async () => {
    await azurite?.stop();
  });

  /** The job's totals as its records say: the truth the counters must match. */
  async function fromRecords(jobId: string): Promise<Counts> {
    const total = emptyCounts();
    for (const r of await records.listForJob(TENANT, jobId)) addCounts(total, countsOf(r));
    return total;
  }

  async function claim(jobId: string, userId: string): Promise<DeliveryRecord> {
    const user = (await users.getUserById(TENANT, userId))!;
    const claimed = await records.claim({
      tenantId: TENANT,
      jobId,
      recipient: `userId:${userId}`,
      claimToken: `msg-${userId}`,
      user,
      capHour: '2026-11-25T18',
      counted: true,
    });
    if (claimed.kind !== 'claimed') throw new Error(`claim of ${userId}: ${claimed.kind}`);
    return claimed.delivery;
  }

  const seed = (ids: string[]) =>
    seedUsers({
      connectionString: azurite.connectionString,
      tenantId: TENANT,
      serviceUrl: 'https://smba.trafficmanager.net/teams/',
      userIds: ids,
      source: 'personal',
    });

  it('counts an outcome exactly once when its write was lost on the way or its answer was lost', async () => {
    const jobId = 'job-lost-writes';
    await seed(['29:lost-1', '29:lost-2', '29:lost-3']);
    const [a, b, c] = await Promise.all(['29:lost-1', '29:lost-2', '29:lost-3'].map((u) => claim(jobId, u)));
    // Nothing stored, the retry writes record and count together.
    faults.push('before');
    expect(await records.complete(TENANT, a!, { status: 'sent' }, { waitOutOutageMs: 10_000 })).toBe(true);
    // Stored with its count, the answer lost: the retry finds the record moved and counts nothing.
    faults.push('after');
    expect(await records.complete(TENANT, b!, { status: 'sent' }, { waitOutOutageMs: 10_000 })).toBe(false);
    expect((await records.get(TENANT, jobId, b!.recipient))?.status).toBe('sent');
    // A host killed at the write (no retry in this process): neither the record nor the count moved.
    faults.push('before');
    await expect(records.complete(TENANT, c!, { status: 'failed', reason: 'X' })).rejects.toThrow();
    expect((await records.get(TENANT, jobId, c!.recipient))?.status).toBe('sending');
    expect(await counters.totals(TENANT, jobId)).toMatchObject({ sent: 2, failed: 0 });
    // The poison-queue function records it later; a redelivery of that message after a lost answer counts nothing.
    faults.push('after');
    const failed = { status: 'failed' as const, reason: 'Poisoned' };
    await expect(
      recordWithoutClaim(records, TENANT, jobId, c!.recipient, failed, { counted: true }),
    ).rejects.toThrow();
    await recordWithoutClaim(records, TENANT, jobId, c!.recipient, failed, { counted: true });
    expect(faults).toEqual([]);
    expect(await counters.totals(TENANT, jobId)).toEqual({ ...emptyCounts(), sent: 2, failed: 1 });
    expect(await counters.totals(TENANT, jobId)).toEqual(await fromRecords(jobId));
  });

  it('keeps totals equal to the records under concurrent outcomes and follow-ups on the same shards', async () => {
    const jobId = 'job-concurrent';
    const ids = Array.from({ length: 120 }, (_, i) => `29:busy-${i}`);
    await seed(ids);
    const sent = await pMap(
      ids,
      async (id, i) => {
        const claimed = await claim(jobId, id);
        if (i % 10 === 9) faults.push(i % 20 === 9 ? 'before' : 'after');
        const outcome =
          i % 7 === 0 ? { status: 'failed' as const, reason: 'X' } : { status: 'sent' as const };
        await records.complete(TENANT, claimed, outcome, { waitOutOutageMs: 10_000 });
        return (await records.get(TENANT, jobId, claimed.recipient))!;
      },
      { concurrency: 24 },
    );
    await pMap(
      sent.filter((r) => r.status === 'sent'),
      async (r, i) => {
        const read = await followUps.write(TENANT, r, { readAt: 'now' });
        if (read && i % 3 === 0)
          await followUps.write(TENANT, read, { status: 'recalled', recalledAt: 'now' });
      },
      { concurrency: 24 },
    );
    // Recipients never sent: a recall cancels them, counted though no record existed.
    const cancelled = { status: 'cancelled' as const, reason: 'Recalled' };
    for (const never of ['userId:29:never-1', 'userId:29:never-2'])
      await records.recordIfUnchanged(TENANT, jobId, never, cancelled, undefined, { counted: true });
    expect(faults).toEqual([]);
    const totals = await counters.totals(TENANT, jobId);
    expect(totals).toEqual(await fromRecords(jobId));
    expect(totals.sent + totals.failed + totals.recalled + totals.cancelled).toBe(ids.length + 2);
    expect(totals).toMatchObject({ cancelled: 2, read: sent.filter((r) => r.status === 'sent').length });
  });

  it('counts nothing for a job that names its recipients (its status reads the records)', async () => {
    const jobId = 'job-named';
    await recordWithoutClaim(records, TENANT, jobId, 'userId:29:x', {
      status: 'skipped',
      reason: 'OptedOut',
    });
    expect(await counters.totals(TENANT, jobId)).toEqual(emptyCounts());
  });
});
