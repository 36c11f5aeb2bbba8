import Bottleneck from 'bottleneck';

/**
 * Keeps Bot Connector calls under Teams' limits for everything running in this process:
 * per tenant (app-wide, default 50/s) and per conversation (default 7/s). Calls are spaced
 * evenly (Bottleneck's minTime), so no one-second window ever holds more than the budget.
 * With several instances, give each instance its share (see README).
 */
export interface RateLimiterOptions {
  tenantPerSecond: number;
  conversationPerSecond: number;
  /** Fraction of the budget to use, leaving room for clock jitter on Teams' side. */
  headroom?: number;
}

export class DeliveryRateLimiter {
  private readonly tenants: Bottleneck.Group;
  private readonly conversations: Bottleneck.Group;
  private readonly recentThrottles = new Map<string, number[]>();

  constructor(options: RateLimiterOptions) {
    const headroom = options.headroom ?? 0.96;
    this.tenants = new Bottleneck.Group({
      minTime: 1000 / (options.tenantPerSecond * headroom),
      maxConcurrent: null,
    });
    this.conversations = new Bottleneck.Group({
      minTime: 1000 / (options.conversationPerSecond * headroom),
      // One call at a time per chat keeps messages to a user in order.
      maxConcurrent: 1,
      // Idle conversation limiters are dropped after a minute.
      timeout: 60_000,
    });
  }

  /** Runs `call` when both the tenant's and (if given) the conversation's budgets allow. */
  schedule<T>(tenantId: string, conversationId: string | undefined, call: () => Promise<T>): Promise<T> {
    const tenant = this.tenants.key(tenantId);
    if (!conversationId) return tenant.schedule(call);
    // The conversation slot is taken first, then the tenant slot, so a busy chat never holds tenant budget.
    return this.conversations.key(`${tenantId}|${conversationId}`).schedule(() => tenant.schedule(call));
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
    if (recent.length >= 3) this.pause(tenantId, retryAfterMs);
  }

  private pause(tenantId: string, ms: number): void {
    const limiter = this.tenants.key(tenantId);
    void limiter.updateSettings({ reservoir: 0 });
    setTimeout(() => void limiter.updateSettings({ reservoir: null }), ms).unref();
  }

  async stop(): Promise<void> {
    await Promise.all(
      [...this.tenants.limiters(), ...this.conversations.limiters()].map((l) => l.limiter.stop()),
    );
  }
}
