/**
 * Keeps Bot Connector calls under Teams' limits for everything running in this process:
 * per tenant (app-wide, default 50/s) and per conversation (default 7/s).
 *
 * Each key is a queue of calls whose *actual* start times are at least 1/rate apart. Spacing by
 * measured time (not by planned time, as timer-based limiters do) matters: a timer that fires late
 * under load must not let the next call start early, or two calls land in the same slot and Teams'
 * sliding one-second window overflows. With several instances, give each its share (see README).
 */
export interface RateLimiterOptions {
  tenantPerSecond: number;
  conversationPerSecond: number;
  /** Fraction of the budget to use, leaving room for network jitter on the way to Teams. */
  headroom?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls for one key, each started at least `gapMs` after the previous one actually started. */
class Spacer {
  private tail: Promise<void> = Promise.resolve();
  private lastStart = 0;
  private pausedUntil = 0;
  lastUsed = Date.now();

  constructor(private readonly gapMs: number) {}

  /** Resolves when the caller may start; callers are served in order. */
  turn(): Promise<void> {
    this.lastUsed = Date.now();
    const mine = this.tail.then(async () => {
      for (;;) {
        const wait = Math.max(this.lastStart + this.gapMs, this.pausedUntil) - Date.now();
        if (wait <= 0) break;
        await sleep(wait);
      }
      this.lastStart = Date.now();
    });
    this.tail = mine;
    return mine;
  }

  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + ms);
  }
}

export class DeliveryRateLimiter {
  private readonly tenants = new Map<string, Spacer>();
  private readonly conversations = new Map<string, { spacer: Spacer; busy: Promise<unknown> }>();
  private readonly recentThrottles = new Map<string, number[]>();
  private readonly tenantGapMs: number;
  private readonly conversationGapMs: number;

  constructor(options: RateLimiterOptions) {
    const headroom = options.headroom ?? 0.96;
    this.tenantGapMs = 1000 / (options.tenantPerSecond * headroom);
    this.conversationGapMs = 1000 / (options.conversationPerSecond * headroom);
  }

  /** Runs `call` when both the tenant's and (if given) the conversation's budgets allow. */
  async schedule<T>(
    tenantId: string,
    conversationId: string | undefined,
    call: () => Promise<T>,
  ): Promise<T> {
    const tenant = this.tenant(tenantId);
    if (!conversationId) {
      await tenant.turn();
      return call();
    }
    // One call at a time per chat (which keeps a user's messages in order); the conversation's
    // spacing is awaited before the tenant's, so a busy chat never holds tenant budget.
    const key = `${tenantId}|${conversationId}`;
    const entry = this.conversation(key);
    const run = entry.busy.then(async () => {
      await entry.spacer.turn();
      await tenant.turn();
      return call();
    });
    entry.busy = run.catch(() => undefined);
    return run;
  }

  /**
   * Teams answered 429. One throttle is handled by retrying that call; several in a second mean the
   * tenant budget is exceeded (another instance, another app), so the whole tenant pauses.
   */
  throttled(tenantId: string, retryAfterMs: number): void {
    const now = Date.now();
    const recent = (this.recentThrottles.get(tenantId) ?? []).filter((t) => now - t < 1000);
    recent.push(now);
    this.recentThrottles.set(tenantId, recent);
    if (recent.length >= 3) this.tenant(tenantId).pause(retryAfterMs);
  }

  private tenant(tenantId: string): Spacer {
    let spacer = this.tenants.get(tenantId);
    if (!spacer) {
      spacer = new Spacer(this.tenantGapMs);
      this.tenants.set(tenantId, spacer);
    }
    return spacer;
  }

  private conversation(key: string) {
    let entry = this.conversations.get(key);
    if (!entry) {
      this.forgetIdleConversations();
      entry = { spacer: new Spacer(this.conversationGapMs), busy: Promise.resolve() };
      this.conversations.set(key, entry);
    }
    return entry;
  }

  /** Chats idle for a minute are dropped, so the map stays as small as the live traffic. */
  private forgetIdleConversations(): void {
    if (this.conversations.size < 10_000) return;
    const cutoff = Date.now() - 60_000;
    for (const [key, entry] of this.conversations)
      if (entry.spacer.lastUsed < cutoff) this.conversations.delete(key);
  }
}
