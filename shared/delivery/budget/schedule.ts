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
  /**
   * The yield signal (docs/rate-limits.md#lanes): until this time (epoch ms) an urgent send waits or
   * is about to, so the other lanes take times only a short way ahead (`yieldHorizonMs`) and the
   * schedule's free end stays near now for it.
   */
  urgentUntil?: number | undefined;
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
   * instance raises it to its measured write time: see `adapt`).
   */
  leadMs: number;
  /**
   * A call may start at most this long after its time, else the time is dropped: later starts could
   * bunch up with the times after them (at 50/s a time is 21 ms from the next).
   */
  maxLateMs: number;
  /** While the tenant is busy, an instance gathers callers this long before asking for a block. */
  gatherMs: number;
  /** How long an urgent ask (or an urgent job's intake) keeps the yield signal up. */
  urgentHoldMs: number;
  /** How far ahead non-urgent grants may reach while the yield signal is up. */
  yieldHorizonMs: number;
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
    urgentHoldMs: 2000,
    yieldHorizonMs: 250,
  };
}

const MAX_HORIZON_MS = 5000;

/**
 * The policy for this instance's next grant, given its recent round trips (ms): `cycleMs` from asking
 * to holding a block (read and write, or the write alone), `writeMs` the write alone. An instance asks
 * for one block at a time, so a block must outlast a cycle: with 10 times (200 ms at 50/s) and cycles
 * of 400 ms, as on a loaded storage account, a tenant would get half its budget. So the block grows to
 * 1.5 cycles and the horizon to twice that (at most 5 s: what a killed instance can leave unused).
 * The lead covers the write with a margin, so the block's first times are not past when it arrives.
 */
export function adapt(cycleMs: number, writeMs: number, p: BudgetPolicy): BudgetPolicy {
  const gap = gapMs(p);
  const span = cycleMs * 1.5;
  const horizonMs = Math.max(p.horizonMs, Math.min(MAX_HORIZON_MS, 2 * span));
  const fits = Math.max(1, Math.floor(horizonMs / 2 / gap));
  const maxBlock = Math.max(p.maxBlock, Math.min(fits, Math.ceil(span / gap)));
  const leadMs = Math.min(horizonMs / 2, Math.max(p.leadMs, Math.ceil(writeMs * 1.5 + 5)));
  // While yielding, a grant must still outlast the write that asks for it.
  const yieldHorizonMs = Math.min(horizonMs, Math.max(p.yieldHorizonMs, 2 * leadMs + gap));
  return { ...p, horizonMs, maxBlock, leadMs, yieldHorizonMs };
}

/** Whether the yield signal is up at `now`. */
export const yielding = (state: BudgetState | undefined, now: number) => (state?.urgentUntil ?? 0) > now;

/** The state with the yield signal raised (or kept) until `now + urgentHoldMs`. */
export function raiseSignal(state: BudgetState | undefined, now: number, p: BudgetPolicy): BudgetState {
  return { next: state?.next ?? 0, urgentUntil: Math.max(state?.urgentUntil ?? 0, now + p.urgentHoldMs) };
}

/**
 * Takes up to `want` consecutive times from the schedule, as of `now` (epoch ms). An `urgent` ask
 * (an instance with urgent sends waiting) raises the yield signal; any other ask, while the signal is
 * up, yields: it reaches only `yieldHorizonMs` ahead, so the urgent sends find times at once.
 */
export function grant(
  state: BudgetState | undefined,
  now: number,
  want: number,
  p: BudgetPolicy,
  o: { urgent?: boolean } = {},
): GrantDecision {
  const gap = gapMs(p);
  const yields = !o.urgent && yielding(state, now);
  const horizon = yields ? p.yieldHorizonMs : p.horizonMs;
  // An idle schedule restarts from now: unused past times are never handed out as a burst.
  const start = Math.max(state?.next ?? 0, now + p.leadMs);
  // Wait until the whole block fits under the horizon: granting whatever sliver has just opened
  // would cost a write per time. Yielding, the block is what fits the short horizon.
  const fits = Math.max(1, Math.floor((horizon - p.leadMs) / gap) + 1);
  const count = Math.max(1, Math.min(want, p.maxBlock, yields ? fits : Infinity));
  const room = Math.floor((now + horizon - start) / gap) + 1;
  if (room < count) return { kind: 'wait', retryAt: start + (count - 1) * gap - horizon };
  const signal = o.urgent ? raiseSignal(state, now, p).urgentUntil : state?.urgentUntil;
  const next: BudgetState = { next: start + count * gap };
  // A signal that has passed is dropped, so the row carries it only while it means something.
  if (signal !== undefined && signal > now) next.urgentUntil = signal;
  return { kind: 'grant', block: { start, gap, count }, state: next };
}

/** The times of a block, in order. */
export function timesOf(block: Block): number[] {
  return Array.from({ length: block.count }, (_, i) => block.start + i * block.gap);
}
