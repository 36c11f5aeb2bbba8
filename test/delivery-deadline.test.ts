/**
 * The invocation deadline and the claim's fencing, as pure decisions and on in-memory stores: the
 * deadline's figures, claim tokens that name the message and the invocation, waits that give up
 * before the deadline instead of holding a claim, and the re-check of a claim before a late call.
 */
import { describe, expect, it } from 'vitest';
import { FENCE_AFTER_MS, HeldClaim } from '../shared/delivery/claim.js';
import { DeadlinePassedError, invocationDeadline } from '../shared/delivery/deadline.js';
import { claimTokenOf, existingDeliveryAction } from '../shared/delivery/policy.js';
import { DeliveryRateLimiter } from '../shared/delivery/rateLimiter.js';
import { SharedTenantBudget } from '../shared/delivery/budget/sharedBudget.js';
import type { BudgetStore } from '../shared/delivery/budget/port.js';
import type { DeliveryRecord } from '../shared/stores/deliveryRecords.js';
import { MemoryConversationStore, MemoryDeliveryRecordStore } from './support/memoryStores.js';

const LEASE = 2 * 60_000;

describe('invocationDeadline', () => {
  it("host.json's 5 minutes and the 2-minute lease: calls start within 60 s, outcomes by 270 s", () => {
    const d = invocationDeadline(0, {
      functionTimeoutMs: 300_000,
      claimLeaseMs: LEASE,
      connectorTimeoutMs: 15_000,
    });
    expect(d).toEqual({ at: 60_000, hardAt: 270_000, callTimeoutMs: 15_000 });
  });

  it('a short function timeout leaves room for the last call and its outcome before the hard stop', () => {
    const d = invocationDeadline(1000, {
      functionTimeoutMs: 20_000,
      claimLeaseMs: LEASE,
      connectorTimeoutMs: 5000,
    });
    expect(d.hardAt).toBe(1000 + 18_000);
    expect(d.at + d.callTimeoutMs).toBeLessThan(d.hardAt);
    expect(d.at).toBeGreaterThan(1000);
    expect(d.at - 1000).toBeLessThan(LEASE / 2);
  });
});

describe('claim tokens name the queue message, its delivery and the invocation', () => {
  const record = (claimToken: string, ageMs: number, now: Date): DeliveryRecord => ({
    jobId: 'j',
    recipient: 'userId:u',
    status: 'sending',
    attempts: 1,
    claimToken,
    claimedAt: new Date(now.getTime() - ageMs).toISOString(),
    updatedAt: now.toISOString(),
    etag: 'e',
  });
  const now = new Date();

  it('an earlier delivery of the same message is taken over at once: the host gave that invocation up', () => {
    const held = record(claimTokenOf('m1', 1, 'inv-a'), 1000, now);
    expect(existingDeliveryAction(held, claimTokenOf('m1', 2, 'inv-b'), now, LEASE)).toEqual({
      do: 'take-over',
    });
    // A token from before tokens named invocations (the message ID alone) counts as an earlier delivery.
    const legacy = record('m1', 1000, now);
    expect(existingDeliveryAction(legacy, claimTokenOf('m1', 2, 'inv-b'), now, LEASE)).toEqual({
      do: 'take-over',
    });
  });

  it("another message's live claim waits for its lease; a stale one is taken over", () => {
    const live = record(claimTokenOf('m1', 1, 'inv-a'), 10_000, now);
    expect(existingDeliveryAction(live, claimTokenOf('m2', 1, 'inv-b'), now, LEASE)).toEqual({
      do: 'reschedule',
      delayMs: LEASE - 10_000,
    });
    // The same message delivered again with the same count is not an earlier delivery.
    expect(existingDeliveryAction(live, claimTokenOf('m1', 1, 'inv-c'), now, LEASE).do).toBe('reschedule');
    const stale = record(claimTokenOf('m1', 1, 'inv-a'), LEASE + 1, now);
    expect(existingDeliveryAction(stale, claimTokenOf('m2', 1, 'inv-b'), now, LEASE)).toEqual({
      do: 'take-over',
    });
  });
});

describe('waits give up before the deadline', () => {
  it('a tenant paused past the deadline: the call is not made, the limiter says so at once', async () => {
    const limiter = new DeliveryRateLimiter({ tenantPerSecond: 50, conversationPerSecond: 7 });
    for (let i = 0; i < 3; i++) limiter.throttled('t', 60_000, 429);
    let called = false;
    const started = Date.now();
    const err = await limiter
      .schedule('t', 'a:chat', async () => (called = true), { deadline: Date.now() + 5000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeadlinePassedError);
    expect((err as DeadlinePassedError).retryInMs).toBeGreaterThan(50_000);
    expect(called).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('a call waiting behind a slow call in its chat gives up at its deadline; the next one still waits its turn', async () => {
    const limiter = new DeliveryRateLimiter({ tenantPerSecond: 50, conversationPerSecond: 7 });
    let release!: () => void;
    const slow = limiter.schedule('t', 'a:chat', () => new Promise<void>((r) => (release = r)));
    const order: string[] = [];
    const late = limiter
      .schedule('t', 'a:chat', async () => order.push('late'), { deadline: Date.now() + 200 })
      .catch((e: unknown) => e);
    const next = limiter.schedule('t', 'a:chat', async () => order.push('next'));
    expect(await late).toBeInstanceOf(DeadlinePassedError);
    await new Promise((r) => setTimeout(r, 100));
    expect(order).toEqual([]); // one call at a time per chat: the slow one still runs
    release();
    await Promise.all([slow, next]);
    expect(order).toEqual(['next']);
  });

  it('the shared budget answers undefined when no time comes before the deadline', async () => {
    // A store where every write loses to another instance's (after a storage round trip).
    const roundTrip = () => new Promise((r) => setTimeout(r, 5));
    const store: BudgetStore = {
      read: async () => (await roundTrip(), undefined),
      write: async () => (await roundTrip(), undefined),
    };
    const budget = new SharedTenantBudget({ store, ratePerSecond: 50 });
    try {
      expect(await budget.take('t', Date.now() + 300)).toBeUndefined();
    } finally {
      budget.stop();
    }
  });
});

describe('the claim is re-checked before a late Teams call', () => {
  async function claimed() {
    const conversations = new MemoryConversationStore();
    const records = new MemoryDeliveryRecordStore(conversations);
    const user = await conversations.saveUser('t', { userId: 'u', serviceUrl: 'https://x/' }, {});
    const request = { tenantId: 't', jobId: 'j', recipient: 'userId:u', claimToken: 'a', user, capHour: 'h' };
    const claim = await records.claim(request);
    if (claim.kind !== 'claimed') throw new Error('no claim');
    return { records, held: new HeldClaim(claim.delivery, (r) => records.renew('t', r)) };
  }

  it('soon after the claim its own write is the check; later a conditional write renews it', async () => {
    const { held } = await claimed();
    const etag = held.record.etag;
    expect(await held.fence()).toBe(true);
    expect(held.record.etag).toBe(etag);
    (held as unknown as { writtenAt: number }).writtenAt -= FENCE_AFTER_MS;
    expect(await held.fence()).toBe(true);
    expect(held.record.etag).not.toBe(etag);
  });

  it('a claim taken over meanwhile fails the check: the call is not made', async () => {
    const { records, held } = await claimed();
    // Another copy took the record over and wrote it (any write moves its ETag).
    const current = (await records.get('t', 'j', 'userId:u'))!;
    expect(await records.complete('t', current, { status: 'pending', reason: 'taken over' })).toBe(true);
    (held as unknown as { writtenAt: number }).writtenAt -= FENCE_AFTER_MS;
    expect(await held.fence()).toBe(false);
  });
});
