import { describe, expect, it } from 'vitest';
import { DeliveryRateLimiter } from '../shared/delivery/rateLimiter.js';
import { busiestWindow } from './support/windows.js';

/** A call that did not wait out the 5 s Retry-After; the margin is for a busy machine, not the limiter. */
const RETRY_AFTER_NOT_WAITED_MS = 4_000;

/** Blocks the event loop, as a busy instance does, so timers fire late. */
function busy(ms: number) {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('delivery rate limiter', () => {
  it('never lets more calls start in a sliding second than the tenant and chat limits, even with late timers', async () => {
    const limiter = new DeliveryRateLimiter({ tenantPerSecond: 100, conversationPerSecond: 7 });
    const tenantStarts: number[] = [];
    const chatStarts = new Map<string, number[]>();
    const chats = Array.from({ length: 30 }, (_, i) => `a:chat-${i}`);
    const calls = Array.from({ length: 300 }, (_, i) => {
      const chat = chats[i % chats.length]!;
      return limiter.schedule('tenant-1', chat, async () => {
        const t = performance.now();
        tenantStarts.push(t);
        chatStarts.set(chat, [...(chatStarts.get(chat) ?? []), t]);
        if (i % 25 === 0) busy(15);
        await new Promise((r) => setTimeout(r, 2));
      });
    });
    await Promise.all(calls);

    expect(tenantStarts).toHaveLength(300);
    expect(busiestWindow(tenantStarts, 1000)).toBeLessThanOrEqual(100);
    for (const starts of chatStarts.values()) expect(busiestWindow(starts, 1000)).toBeLessThanOrEqual(7);
  });

  it('runs one call at a time per chat, in the order they were scheduled', async () => {
    const limiter = new DeliveryRateLimiter({ tenantPerSecond: 1000, conversationPerSecond: 100 });
    const order: number[] = [];
    let running = 0;
    let overlapped = false;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        limiter.schedule('tenant-1', 'a:one-chat', async () => {
          running++;
          if (running > 1) overlapped = true;
          order.push(i);
          await new Promise((r) => setTimeout(r, 1 + (i % 3)));
          running--;
        }),
      ),
    );
    expect(overlapped).toBe(false);
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('pauses the whole tenant after repeated 429s in one second, and only that tenant', async () => {
    const limiter = new DeliveryRateLimiter({ tenantPerSecond: 1000, conversationPerSecond: 100 });
    await limiter.schedule('throttled', undefined, async () => undefined);
    const pausedAt = performance.now();
    for (let i = 0; i < 3; i++) limiter.throttled('throttled', 400);

    let otherStarted = 0;
    let throttledStarted = 0;
    await Promise.all([
      limiter.schedule('other', undefined, async () => (otherStarted = performance.now())),
      limiter.schedule('throttled', undefined, async () => (throttledStarted = performance.now())),
    ]);
    expect(throttledStarted - pausedAt).toBeGreaterThanOrEqual(395);
    // The other tenant went ahead while the paused one waited (no fixed bound: a busy machine is slow).
    expect(otherStarted).toBeLessThan(throttledStarted);
  });

  it('after a 429, admits 10% fewer calls for a moment', async () => {
    const limiter = new DeliveryRateLimiter({ tenantPerSecond: 100, conversationPerSecond: 100 });
    limiter.throttled('tenant-1', 1000);
    const starts: number[] = [];
    await Promise.all(
      Array.from({ length: 120 }, () =>
        limiter.schedule('tenant-1', undefined, async () => {
          starts.push(performance.now());
        }),
      ),
    );
    const first = Math.min(...starts);
    const eased = starts.filter((t) => t - first < 1900);
    // 98 calls a window normally; 10% fewer (88) while eased.
    expect(busiestWindow(eased, 1000)).toBeLessThanOrEqual(88);
    expect(busiestWindow(eased, 1000)).toBeGreaterThan(60);
  });

  it('neither 5xx answers nor a few 429s among many calls pause the tenant', async () => {
    const limiter = new DeliveryRateLimiter({ tenantPerSecond: 1000, conversationPerSecond: 100 });
    // 60 calls in the last second, then 5 answers of 503 and 3 of 429 (5% of the calls).
    await Promise.all(Array.from({ length: 60 }, () => limiter.schedule('busy', undefined, async () => 0)));
    for (let i = 0; i < 5; i++) limiter.throttled('busy', 5000, 503);
    for (let i = 0; i < 3; i++) limiter.throttled('busy', 5000, 429);
    const before = performance.now();
    await limiter.schedule('busy', undefined, async () => undefined);
    expect(performance.now() - before).toBeLessThan(RETRY_AFTER_NOT_WAITED_MS);
    // A tenth of its calls answered 429 within the second: now it pauses.
    for (let i = 0; i < 4; i++) limiter.throttled('busy', 1500, 429);
    const paused = performance.now();
    await limiter.schedule('busy', undefined, async () => undefined);
    expect(performance.now() - paused).toBeGreaterThanOrEqual(1400);
  });

  it('one 429 alone does not pause the tenant', async () => {
    const limiter = new DeliveryRateLimiter({ tenantPerSecond: 1000, conversationPerSecond: 100 });
    limiter.throttled('tenant-1', 5000);
    const before = performance.now();
    await limiter.schedule('tenant-1', undefined, async () => undefined);
    expect(performance.now() - before).toBeLessThan(RETRY_AFTER_NOT_WAITED_MS);
  });

  it("reserves a chat's sends so that, whichever instances claim them, no second holds more than its limit", () => {
    // Two instances reserving in turn through the user's row (the claim's ETag serializes them).
    const a = new DeliveryRateLimiter({ tenantPerSecond: 50, conversationPerSecond: 7 });
    const b = new DeliveryRateLimiter({ tenantPerSecond: 50, conversationPerSecond: 7 });
    let reserved: number | undefined;
    const times: number[] = [];
    for (let i = 0; i < 40; i++) {
      reserved = (i % 2 ? a : b).reserveChatTime(reserved, 1_000_000 + i * 10);
      times.push(reserved);
    }
    expect(busiestWindow(times, 1000)).toBeLessThanOrEqual(7);
    // An idle chat is not held back by an old reservation.
    expect(a.reserveChatTime(1_000_000, 5_000_000)).toBe(5_000_000);
  });
});
