import type { BudgetState } from './schedule.js';
import type { LaneClaim } from '../lanes.js';

/**
 * Where a tenant's shared schedule is kept: one small record per tenant, read and replaced with an
 * optimistic-concurrency tag (an ETag in Azure Table Storage). Adapter: azureStorage/tableBudgetStore.ts.
 */
export interface BudgetStore {
  read(tenantId: string): Promise<{ state: BudgetState; etag: string } | undefined>;
  /**
   * Writes `state` if the record still has `etag` (or, with `etag` undefined, does not exist yet).
   * Returns the new tag, or undefined when someone else wrote first.
   */
  write(tenantId: string, state: BudgetState, etag: string | undefined): Promise<string | undefined>;
}

/** What the rate limiter needs from a shared budget: the next call time this instance may use. */
export interface TenantBudget {
  /**
   * Resolves with a call time (epoch ms, possibly a little in the future) granted to this instance;
   * every caller gets its own time. Times are handed out in order, to callers by lane and job
   * (`claim`, ../lanes.ts; default: normal). With a `deadline` (epoch ms), it resolves undefined
   * instead when no time at or before the deadline came in time.
   */
  take(tenantId: string, deadline?: number, claim?: LaneClaim): Promise<number | undefined>;
  /** Raises the tenant's yield signal: an urgent send is on its way (sharedBudget.ts). */
  signalUrgent?(tenantId: string): Promise<void>;
  /** A call starting later than this after its time must take a new time instead. */
  readonly maxLateMs: number;
  /** Stops timers (tests, benchmark). */
  stop?(): void;
}
