import type { BudgetStore, TenantBudget } from './port.js';
import {
  adapt,
  defaultPolicy,
  gapMs,
  grant,
  raiseSignal,
  timesOf,
  type BudgetPolicy,
  type BudgetState,
} from './schedule.js';
import { newLaneHistory, pickNext, type LaneClaim, type LaneHistory } from '../lanes.js';

/**
 * This instance's side of the shared tenant budget: callers wait for a time from the tenant's shared
 * schedule; when this instance has callers but no times left, it takes a block of times from the
 * store (a read and an ETag-guarded write; a write alone while no other instance writes). One request
 * per tenant is in flight at a time, so the block size follows this instance's backlog.
 *
 * Lanes (../lanes.ts): the times this instance holds go to its waiting callers by lane (urgent first,
 * normal before bulk with bulk's floor) and, within a lane, to jobs in turns. An urgent caller that
 * finds no time held asks at once, raising the row's yield signal; every instance that reads the row
 * while it is up reaches only a short way ahead (schedule.ts `grant`), so the others yield within one
 * block and the urgent caller's next ask finds the schedule's free end near now.
 */
export interface SharedBudgetOptions {
  store: BudgetStore;
  /** The tenant's limit per second. */
  ratePerSecond: number;
  policy?: Partial<BudgetPolicy>;
  /** Epoch ms; tests may move time. */
  clock?: () => number;
}

export interface BudgetStats {
  reads: number;
  writes: number;
  conflicts: number;
  granted: number;
  /** Granted times that passed before a caller could use them. */
  expired: number;
  errors: number;
}

interface TenantState {
  supply: number[];
  /** When recent callers asked (epoch ms, oldest first), for the demand of the last block's span. */
  asked: number[];
  waiters: Waiter[];
  /** When the oldest waiter without a time arrived (epoch ms). */
  oldestUnserved: number;
  /** When this instance last got a block (epoch ms). */
  lastGrant: number;
  /** The last time this instance holds (epoch ms). */
  lastTime: number;
  cached: { state: BudgetState; etag: string } | undefined;
  /** Our last write followed our own previous one: no other instance is writing, so skip the read. */
  alone: boolean;
  busy: boolean;
  timer: NodeJS.Timeout | undefined;
  /** The timer only waits for more callers (or for held times to run low): an urgent caller ends it. */
  gathering: boolean;
  /** The timer only lets others ask first while this instance holds times: an urgent caller ends it. */
  holding: boolean;
  failures: number;
  /** Which lanes and jobs got the last times (lanes.ts pickNext). */
  history: LaneHistory;
}

interface Waiter extends LaneClaim {
  give: (time: number | undefined) => void;
  /** Epoch ms: a time later than this is of no use to this caller. */
  deadline: number;
}

/** Gathering stops once this many callers wait: a block of 10 already costs a write per 10 calls. */
const GATHER_ENOUGH = 10;

export class SharedTenantBudget implements TenantBudget {
  private readonly tenants = new Map<string, TenantState>();
  private readonly policy: BudgetPolicy;
  private readonly clock: () => number;
  private stopped = false;
  readonly stats: BudgetStats = { reads: 0, writes: 0, conflicts: 0, granted: 0, expired: 0, errors: 0 };
  /** Recent write round trip (ms), smoothed: the lead of the next grant covers it. */
  private writeMs = 0;
  /** Recent time from asking to holding a block (ms), smoothed: the next block outlasts it. */
  private cycleMs = 0;

  constructor(private readonly o: SharedBudgetOptions) {
    this.policy = { ...defaultPolicy(o.ratePerSecond), ...o.policy };
    this.clock = o.clock ?? Date.now;
  }

  take(
    tenantId: string,
    deadline = Infinity,
    claim: LaneClaim = { lane: 'normal' },
  ): Promise<number | undefined> {
    const t = this.tenant(tenantId);
    return new Promise<number | undefined>((resolve) => {
      const now = this.clock();
      if (t.waiters.length === t.supply.length) t.oldestUnserved = now;
      t.asked.push(now);
      this.recentDemand(t); // keeps `asked` to the span
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        lane: claim.lane,
        jobId: claim.jobId,
        deadline,
        give: (time) => {
          clearTimeout(timer);
          resolve(time);
        },
      };
      if (Number.isFinite(deadline)) {
        // No time came before the deadline: the caller leaves the line (its place goes to the next).
        timer = setTimeout(
          () => {
            const at = t.waiters.indexOf(waiter);
            if (at >= 0) t.waiters.splice(at, 1);
            resolve(undefined);
          },
          Math.max(0, deadline - now),
        );
      }
      t.waiters.push(waiter);
      this.pump(tenantId, t);
    });
  }

  /** The policy for now: blocks, horizon and lead follow this instance's storage round trips. */
  private get live(): BudgetPolicy {
    return adapt(this.cycleMs, this.writeMs, this.policy);
  }

  /** How late a call may start after its time (see BudgetPolicy.maxLateMs). */
  get maxLateMs(): number {
    return this.policy.maxLateMs;
  }

  /**
   * Raises the tenant's yield signal before an urgent send even asks (an urgent job's intake): the
   * other instances see it at their next block and reach only a short way ahead, so by the time the
   * delivery asks, the schedule's free end is near now. Best effort: a failed write only costs the
   * urgent send the wait it would have had anyway.
   */
  async signalUrgent(tenantId: string): Promise<void> {
    const t = this.tenant(tenantId);
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        this.stats.reads++;
        const read = await this.o.store.read(tenantId);
        const state = raiseSignal(read?.state, this.clock(), this.policy);
        this.stats.writes++;
        const etag = await this.o.store.write(tenantId, state, read?.etag);
        if (etag) {
          if (!t.busy) t.cached = { state, etag };
          t.alone = false;
          return;
        }
        this.stats.conflicts++;
      }
    } catch {
      this.stats.errors++;
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.tenants.values()) clearTimeout(t.timer);
  }

  private tenant(tenantId: string): TenantState {
    const key = tenantId.toLowerCase();
    let t = this.tenants.get(key);
    if (!t) {
      t = {
        supply: [],
        asked: [],
        waiters: [],
        oldestUnserved: 0,
        lastGrant: 0,
        lastTime: 0,
        cached: undefined,
        alone: false,
        busy: false,
        timer: undefined,
        gathering: false,
        holding: false,
        failures: 0,
        history: newLaneHistory(),
      };
      this.tenants.set(key, t);
    }
    return t;
  }

  /** Hands out held times to waiters in order, and asks for more while waiters remain. */
  private pump(tenantId: string, t: TenantState): void {
    // A time already past cannot be used any more (its caller would start late and bunch up).
    const stale = this.clock() - this.policy.maxLateMs;
    while (t.supply.length && t.supply[0]! < stale) {
      t.supply.shift();
      this.stats.expired++;
    }
    while (t.waiters.length && t.supply.length) {
      // By lane, then jobs in turns (lanes.ts); a time past the caller's deadline stays for the next.
      const [waiter] = t.waiters.splice(pickNext(t.waiters, t.history), 1);
      if (t.supply[0]! > waiter!.deadline) waiter!.give(undefined);
      else waiter!.give(t.supply.shift()!);
    }
    const live = this.live;
    const enough = Math.min(live.maxBlock, GATHER_ENOUGH);
    const urgent = urgentWaits(t);
    // Enough callers end a gathering; an urgent caller ends any wait that was only politeness.
    if (t.timer && ((t.gathering && (urgent || t.waiters.length >= enough)) || (t.holding && urgent))) {
      clearTimeout(t.timer);
      t.timer = undefined;
      t.gathering = false;
      t.holding = false;
    }
    if (!t.waiters.length || t.busy || t.timer || this.stopped) return;
    // While busy, let callers gather for a moment so one write grants a whole block: a write per
    // call would cost more storage transactions than the deliveries themselves. An idle tenant's
    // first call asks at once.
    const now = this.clock();
    // An instance still holding times for the next half horizon lets others ask first, so a new
    // instance gets its share at once rather than racing the busy ones.
    const holdsUntil = t.lastTime - live.horizonMs / 2;
    if (holdsUntil > now && !urgent) {
      this.later(tenantId, t, holdsUntil - now, false);
      t.holding = true;
      return;
    }
    const gatherUntil = t.oldestUnserved + this.policy.gatherMs;
    if (!urgent && t.waiters.length < enough && now - t.lastGrant < 1000 && now < gatherUntil) {
      this.later(tenantId, t, gatherUntil - now, false);
      t.gathering = true;
      return;
    }
    t.busy = true;
    void this.request(tenantId, t).finally(() => {
      t.busy = false;
      this.pump(tenantId, t);
    });
  }

  /** Callers in the last span of a full block (at least 100 ms). */
  private recentDemand(t: TenantState): number {
    const span = Math.max(100, this.live.maxBlock * gapMs(this.policy));
    const since = this.clock() - span;
    while (t.asked.length && t.asked[0]! < since) t.asked.shift();
    return t.asked.length;
  }

  private later(tenantId: string, t: TenantState, ms: number, jitter = true): void {
    // A little jitter, so instances waiting for the same moment do not all write at once.
    t.timer = setTimeout(
      () => {
        t.timer = undefined;
        t.gathering = false;
        t.holding = false;
        this.pump(tenantId, t);
      },
      Math.max(0, ms) + (jitter ? Math.random() * 10 : 0),
    );
  }

  private async request(tenantId: string, t: TenantState): Promise<void> {
    const asked = this.clock();
    try {
      for (let attempt = 0; attempt < 10; attempt++) {
        let current = t.cached;
        if (!t.alone || !current) {
          this.stats.reads++;
          const read = await this.o.store.read(tenantId);
          // Nobody wrote since our own last write: we are alone, and may skip the read next time.
          t.alone = !!read && !!current && read.etag === current.etag;
          current = read;
        }
        const unserved = t.waiters.length - t.supply.length;
        if (unserved <= 0) return;
        // Alone on the schedule, ask for what the last block's span asked for too: callers arriving
        // meanwhile find times waiting instead of a round trip each. Unused times only pass.
        const want = t.alone ? Math.max(unserved, this.recentDemand(t)) : unserved;
        const decision = grant(current?.state, this.clock(), want, this.live, { urgent: urgentWaits(t) });
        if (decision.kind === 'wait') {
          // The real schedule is at least as full as what we read, so this wait is never too long.
          t.cached = current;
          this.later(tenantId, t, decision.retryAt - this.clock());
          return;
        }
        this.stats.writes++;
        const writeStarted = this.clock();
        const etag = await this.o.store.write(tenantId, decision.state, current?.etag);
        const took = this.clock() - writeStarted;
        this.writeMs = smooth(this.writeMs, took);
        if (etag) {
          this.cycleMs = smooth(this.cycleMs, this.clock() - asked);
          t.cached = { state: decision.state, etag };
          t.failures = 0;
          t.lastGrant = this.clock();
          t.lastTime = decision.state.next - decision.block.gap;
          t.oldestUnserved = this.clock();
          this.stats.granted += decision.block.count;
          t.supply.push(...timesOf(decision.block));
          return;
        }
        this.stats.conflicts++;
        t.alone = false;
      }
    } catch {
      // Storage unreachable: wait and ask again; nothing is sent without a granted time.
      this.stats.errors++;
      t.alone = false;
      t.failures++;
      this.later(tenantId, t, Math.min(2000, 100 * 2 ** t.failures));
    }
  }
}

/** An urgent caller is waiting without a time (held times go to urgent callers first). */
const urgentWaits = (t: TenantState) => t.waiters.some((w) => w.lane === 'urgent');

/** Smoothed, but a slow round trip raises it at once: a block or lead too short wastes the block. */
function smooth(recent: number, took: number): number {
  return took > recent ? took : recent * 0.8 + took * 0.2;
}
