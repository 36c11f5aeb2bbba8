/**
 * Priority lanes (docs/delivery.md#lanes): every delivery runs in one of three lanes. Urgent ones have
 * their own queue and the first claim on the tenant's budget; normal ones go before bulk ones, but bulk
 * keeps a floor; within a lane, jobs take turns. This module holds the pure decisions: which waiting
 * call gets the next time of the tenant's budget (`pickNext`), used by the shared budget
 * (budget/sharedBudget.ts) and by the in-process pacing (rateLimiter.ts).
 */

export const LANES = ['urgent', 'normal', 'bulk'] as const;
export type Lane = (typeof LANES)[number];

export const isLane = (value: unknown): value is Lane => LANES.includes(value as Lane);

/** What a call waiting for the tenant's budget says about itself. */
export interface LaneClaim {
  lane: Lane;
  /** Calls of one job take turns with other jobs' in the same lane. */
  jobId?: string | undefined;
}

/**
 * The floors: while a higher lane has callers waiting, a lower one that waits too still gets at least
 * one time in `1 / floor`. Bulk keeps a fifth of the budget while normal traffic runs; normal and bulk
 * together keep a tenth while urgent sends wait (urgent jobs are small: contract.ts refuses big ones).
 */
export const FLOORS = { belowUrgent: 0.1, bulk: 0.2 } as const;

/** What the picker remembers between picks (one per tenant). */
export interface LaneHistory {
  /** Picks so far. */
  seq: number;
  /** Per lane and job: the pick that last served it (job keys `lane|jobId`). */
  served: Map<string, number>;
  /** Consecutive picks of a higher lane while the lower one waited: below urgent, and bulk below normal. */
  streak: { belowUrgent: number; bulk: number };
}

export const newLaneHistory = (): LaneHistory => ({
  seq: 0,
  served: new Map(),
  streak: { belowUrgent: 0, bulk: 0 },
});

/** Jobs remembered for turns; beyond this the longest unserved are forgotten (they then count as new). */
const MAX_REMEMBERED = 2000;

const jobKey = (w: LaneClaim) => `${w.lane}|${w.jobId ?? ''}`;

/** Consecutive picks of a higher lane after which a waiting lower lane gets one: 1 / floor - 1. */
export const streakLimit = (floor: number) => Math.max(1, Math.round(1 / floor) - 1);

/** The lane to serve next, given which lanes have callers waiting. */
export function laneToServe(waiting: ReadonlySet<Lane>, h: LaneHistory): Lane | undefined {
  const lower = waiting.has('normal') || waiting.has('bulk');
  if (waiting.has('urgent') && !(lower && h.streak.belowUrgent >= streakLimit(FLOORS.belowUrgent)))
    return 'urgent';
  if (waiting.has('normal') && !(waiting.has('bulk') && h.streak.bulk >= streakLimit(FLOORS.bulk)))
    return 'normal';
  if (waiting.has('bulk')) return 'bulk';
  return waiting.has('normal') ? 'normal' : waiting.has('urgent') ? 'urgent' : undefined;
}

/**
 * The index of the waiter to serve next: its lane by `laneToServe`, then within the lane the job
 * served least recently (a job never served first; ties to the one waiting longest). Waiters are in
 * arrival order. Updates the history as if the pick is served; -1 when there are none.
 */
export function pickNext(waiters: readonly LaneClaim[], h: LaneHistory): number {
  if (!waiters.length) return -1;
  const lane = laneToServe(new Set(waiters.map((w) => w.lane)), h);
  let best = -1;
  let bestServed = Infinity;
  for (let i = 0; i < waiters.length; i++) {
    const w = waiters[i]!;
    if (w.lane !== lane) continue;
    const served = h.served.get(jobKey(w)) ?? -1;
    if (served < bestServed) {
      best = i;
      bestServed = served;
    }
  }
  served(waiters, waiters[best]!, h);
  return best;
}

/** Records a pick: the streaks that the floors count, and the job's turn. */
function served(waiters: readonly LaneClaim[], pick: LaneClaim, h: LaneHistory): void {
  const waits = (lane: Lane) => waiters.some((w) => w.lane === lane);
  const lowerWaits = waits('normal') || waits('bulk');
  if (pick.lane === 'urgent') h.streak.belowUrgent = lowerWaits ? h.streak.belowUrgent + 1 : 0;
  else h.streak.belowUrgent = 0;
  if (pick.lane === 'normal') h.streak.bulk = waits('bulk') ? h.streak.bulk + 1 : 0;
  else if (pick.lane === 'bulk') h.streak.bulk = 0;
  const key = jobKey(pick);
  h.served.delete(key); // re-inserted last: the map stays in order of service
  h.served.set(key, h.seq++);
  if (h.served.size > MAX_REMEMBERED) {
    const oldest = h.served.keys().next().value;
    if (oldest !== undefined) h.served.delete(oldest);
  }
}
