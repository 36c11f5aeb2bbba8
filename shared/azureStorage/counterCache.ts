/**
 * The counter rows this process wrote last (countedWrite.ts), with their ETags: a counting write
 * starts from the row it remembers instead of reading it first, which saves a third of an audience
 * delivery's storage requests. A remembered row another instance has since written is stale: the
 * transaction fails on its ETag and is retried after a read, as without the cache. Where that keeps
 * happening (several instances counting the same jobs), a miss costs more than the read it saves,
 * so the cache stands aside for a while and rows are read first again.
 */

export interface CounterRow {
  etag: string;
  [kind: string]: unknown;
}

export interface CounterCachePolicy {
  /** Rows remembered; beyond this the oldest are forgotten. */
  maxRows: number;
  /** The share of recent remembered rows that may prove stale before the cache stands aside. */
  maxMissRate: number;
  /** How long it then stands aside (ms). */
  pauseMs: number;
  /** The weight of the latest use in the recent miss rate (an exponential average). */
  weight: number;
}

export const COUNTER_CACHE_POLICY: CounterCachePolicy = {
  maxRows: 4096,
  maxMissRate: 0.2,
  pauseMs: 30_000,
  weight: 0.1,
};

export class CounterCache {
  private readonly rows = new Map<string, CounterRow>();
  private missRate = 0;
  private pausedUntil = 0;

  constructor(
    private readonly policy: CounterCachePolicy = COUNTER_CACHE_POLICY,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The row as this process last wrote it, unless the cache stands aside. Taken out: a write owns it. */
  take(key: string): CounterRow | undefined {
    const row = this.rows.get(key);
    this.rows.delete(key);
    return this.clock() < this.pausedUntil ? undefined : row;
  }

  /** The row as a write just left it. */
  remember(key: string, row: CounterRow): void {
    this.rows.delete(key); // re-inserted last: the map stays in order of use
    this.rows.set(key, row);
    if (this.rows.size > this.policy.maxRows) {
      const oldest = this.rows.keys().next().value;
      if (oldest !== undefined) this.rows.delete(oldest);
    }
  }

  /** How a write that started from a remembered row went: `stale` when the row's ETag had moved. */
  used(stale: boolean): void {
    const w = this.policy.weight;
    this.missRate = this.missRate * (1 - w) + (stale ? w : 0);
    if (this.missRate > this.policy.maxMissRate) {
      this.pausedUntil = this.clock() + this.policy.pauseMs;
      this.missRate = 0;
      this.rows.clear();
    }
  }

  /** Whether remembered rows are used now (the tests read it). */
  get active(): boolean {
    return this.clock() >= this.pausedUntil;
  }
}

/** This process's cache: every store writing counter rows shares it. */
export const processCounterCache = new CounterCache();
