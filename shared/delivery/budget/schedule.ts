/**
 * The pure part of the shared tenant budget: one schedule of call times per tenant, shared by every
 * instance, from which instances take short blocks of consecutive times (see docs/scale-out.md).
 *
 * The schedule spaces calls `gap` apart (the tenant's limit × headroom), so however the blocks are
 * spread over instances, every sliding second holds at most `1000 / gap + 1` planned calls. The only
 * shared state is `next`, the first time not yet handed out; instances never own anything for long,
 * so a new instance gets times on its first request and a killed instance's times just pass.
 */
export interface BudgetState {
  /** Epoch ms of the first call time not yet granted. */
  next: number;
}

export interface BudgetPolicy {
  /** Calls per second the tenant allows (Teams: 50 per app per tenant). */
  ratePerSecond: number;
  /** Share of the rate that is planned; the rest absorbs timer and network jitter. */
  headroom: number;
  /** Times are never granted further ahead than this, which bounds what a killed instance wastes. */
  horizonMs: number;
  /** Most times in one grant; smaller shares better between instances, larger costs fewer writes. */
  maxBlock: number;
  /**
   * A grant starts at least this far ahead, so the write's round trip does not eat into it (the
   * instance raises it to its measured write time: see `leadFor`).
   */
  leadMs: number;
  /**
   * A call may start at most this long after its time, else the time is dropped: later starts could
   * bunch up with the times after them (at 50/s a time is 21 ms from the next).
   */
  maxLateMs: number;
  /** While the tenant is busy, an instance gathers callers this long before asking for a block. */
  gatherMs: number;
}

export interface Block {
  /** Epoch ms of the first time. */
  start: number;
  gap: number;
  count: number;
}

export type GrantDecision =
  | { kind: 'grant'; block: Block; state: BudgetState }
  /** The schedule is full up to the horizon: ask again at `retryAt` (epoch ms). */
  | { kind: 'wait'; retryAt: number };

export const gapMs = (p: BudgetPolicy) => 1000 / (p.ratePerSecond * p.headroom);

/** Policy for a tenant limit: blocks of about 200 ms of the budget, one second ahead at most. */
export function defaultPolicy(ratePerSecond: number): BudgetPolicy {
  return {
    ratePerSecond,
    headroom: 0.97,
    horizonMs: 1000,
    maxBlock: Math.max(1, Math.round(ratePerSecond * 0.2)),
    leadMs: 10,
    maxLateMs: 20,
    gatherMs: 150,
  };
}

/**
 * How far ahead a grant should start, given this instance's recent write round trip (ms): times
 * that come back from a slow write already past would be given up unused, so the lead covers the
 * write with a margin, within [leadMs, half the horizon].
 */
export function leadFor(writeMs: number, p: BudgetPolicy): number {
  return Math.min(p.horizonMs / 2, Math.max(p.leadMs, Math.ceil(writeMs * 1.5 + 5)));
}

/** Takes up to `want` consecutive times from the schedule, as of `now` (epoch ms). */
export function grant(
  state: BudgetState | undefined,
  now: number,
  want: number,
  p: BudgetPolicy,
): GrantDecision {
  const gap = gapMs(p);
  // An idle schedule restarts from now: unused past times are never handed out as a burst.
  const start = Math.max(state?.next ?? 0, now + p.leadMs);
  // Wait until the whole block fits under the horizon: granting whatever sliver has just opened
  // would cost a write per time.
  const count = Math.max(1, Math.min(want, p.maxBlock));
  const room = Math.floor((now + p.horizonMs - start) / gap) + 1;
  if (room < count) return { kind: 'wait', retryAt: start + (count - 1) * gap - p.horizonMs };
  return { kind: 'grant', block: { start, gap, count }, state: { next: start + count * gap } };
}

/** The times of a block, in order. */
export function timesOf(block: Block): number[] {
  return Array.from({ length: block.count }, (_, i) => block.start + i * block.gap);
}
