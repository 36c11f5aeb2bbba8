/**
 * Keeps Bot Connector calls under Teams' limits for everything running in this process:
 * per tenant (app-wide, default 50/s) and per conversation (default 7/s).
 *
 * Each key paces its calls on a planned schedule (one slot every 1/(rate × headroom) seconds) and
 * never lets more than 98% of `rate` calls start within any window slightly longer than one second.
 * The schedule is what uses the budget: a timer that fires late does not push every later slot
 * back, so lateness does not add up. The window is what keeps Teams happy: however late timers
 * fire and however the slots bunch up to catch up, Teams' sliding one-second window never sees more
 * than its limit. With a shared budget (`budget`), a tenant's calls instead wait for times from the
 * schedule all instances share (budget/sharedBudget.ts, docs/scale-out.md). Either way a tenant's
 * waiting calls are served by lane and job (lanes.ts): the budget orders them, or a LaneGate in front
 * of the tenant's pacing.
 */
import type { TenantBudget } from './budget/port.js';
import { DeadlinePassedError } from './deadline.js';
import { LaneGate } from './laneGate.js';
import type { LaneClaim } from './lanes.js';

export interface RateLimiterOptions {
  tenantPerSecond: number;
  conversationPerSecond: number;
  /** Fraction of the budget the schedule plans to use, leaving room for jitter. */
  headroom?: number;
  /** The tenant budget shared by every instance; without it each process paces to the whole limit. */
  budget?: TenantBudget | undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => performance.now();

/**
 * `waiting`, or a DeadlinePassedError once `deadline` (epoch ms) comes first; `onGiveUp` lets the
 * waiter leave its line without taking the turn it no longer needs.
 */
function beforeDeadline<T>(waiting: Promise<T>, deadline: number, onGiveUp: () => void): Promise<T> {
  if (!Number.isFinite(deadline)) return waiting;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => {
        onGiveUp();
        reject(new DeadlinePassedError());
      },
      Math.max(0, deadline - Date.now()),
    );
    waiting.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err as Error);
      },
    );
  });
}

/**
 * Our window is longer than Teams' second and holds 2% fewer calls than the limit: calls reach Teams
 * with uneven delays (a new connection, a busy event loop), which can squeeze our spacing there.
 */
const WINDOW_MS = 1020;
const WINDOW_SHARE = 0.98;
/** Slots missed by at most this many gaps are still used, so a late timer is caught up on. */
const CATCH_UP_SLOTS = 2;
/**
 * A 429 means Teams counted more than we did (jitter on the way, another instance): for a short while
 * after one, the tenant plans and admits 10% fewer calls, so a burst of 429s does not follow.
 */
const EASED_SHARE = 0.9;
/** Share of a chat's limit its shared reservations plan, leaving room for uneven waits before sends. */
const CHAT_SHARE = 0.85;
const EASE_MS = 2000;
/** 429s within a second that pause a tenant: at least this many, and this share of its calls. */
const PAUSE_AFTER_429S = 3;
const PAUSE_SHARE = 0.1;

/** Calls for one key, started in order on a planned schedule and capped by a sliding window. */
class Pacer {
  private tail: Promise<void> = Promise.resolve();
  private nextSlot = 0;
  /** Start times of the last `limit` calls, oldest at `oldest`. */
  private readonly starts: Float64Array;
  private oldest = 0;
  private pausedUntil = 0;
  private easedUntil = 0;
  lastUsed = Date.now();

  constructor(
    private readonly gapMs: number,
    limit: number,
  ) {
    const inWindow = Math.max(1, Math.floor(limit * WINDOW_SHARE));
    this.starts = new Float64Array(inWindow).fill(Number.NEGATIVE_INFINITY);
  }

  /**
   * Resolves when the caller may start; callers are served in order. A caller whose turn would come
   * past `deadline` (epoch ms) gets a DeadlinePassedError and takes no slot.
   */
  turn(deadline = Infinity): Promise<void> {
    this.lastUsed = Date.now();
    let gaveUp = false;
    let tooLate: DeadlinePassedError | undefined;
    const mine = this.tail.then(async () => {
      if (gaveUp) return;
      let gap = this.gapMs;
      for (;;) {
        const eased = now() < this.easedUntil;
        gap = eased ? this.gapMs / EASED_SHARE : this.gapMs;
        // The window admits the new call if the m-th most recent start left it (m = calls allowed).
        const skip = eased ? Math.ceil(this.starts.length * (1 - EASED_SHARE)) : 0;
        const windowStart = this.starts[(this.oldest + skip) % this.starts.length]!;
        const at = Math.max(this.nextSlot, windowStart + WINDOW_MS, this.pausedUntil);
        const wait = at - now();
        if (wait <= 0) break;
        if (Date.now() + wait > deadline) {
          tooLate = new DeadlinePassedError(wait);
          return;
        }
        await sleep(wait);
      }
      const started = now();
      // Late by a slot or two: keep the schedule, so the next call catches up. Idle for longer: start
      // a new schedule from now, so a quiet spell never turns into a burst.
      const late = started - this.nextSlot;
      this.nextSlot = (late > CATCH_UP_SLOTS * gap ? started : this.nextSlot) + gap;
      this.starts[this.oldest] = started;
      this.oldest = (this.oldest + 1) % this.starts.length;
    });
    this.tail = mine;
    const served = mine.then(() => {
      if (tooLate) throw tooLate;
    });
    return beforeDeadline(served, deadline, () => (gaveUp = true));
  }

  /** The end of a pause after 429s, as epoch ms. */
  pausedUntilEpoch(): number {
    return Date.now() + Math.max(0, this.pausedUntil - now());
  }

  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, now() + ms);
  }

  ease(): void {
    this.easedUntil = now() + EASE_MS;
  }
}

export class DeliveryRateLimiter {
  private readonly tenants = new Map<string, Pacer>();
  private readonly gates = new Map<string, LaneGate>();
  private readonly conversations = new Map<string, { pacer: Pacer; busy: Promise<unknown> }>();
  /** Per tenant, when its recent 429s came and when its recent calls started (epoch ms). */
  private readonly recentThrottles = new Map<string, number[]>();
  private readonly callStarts = new Map<string, number[]>();
  private readonly headroom: number;

  constructor(private readonly options: RateLimiterOptions) {
    this.headroom = options.headroom ?? 0.97;
  }

  /** Calls that lost their shared time because they would have started too late. */
  droppedTimes = 0;

  /**
   * Runs `call` when both the tenant's and (if given) the conversation's budgets allow. `notBefore`
   * (epoch ms) is a time the conversation's shared budget reserved for this call; `deadline` (epoch
   * ms): when the call could not start by then, it is not made and a DeadlinePassedError is thrown
   * as soon as that is known.
   */
  async schedule<T>(
    tenantId: string,
    conversationId: string | undefined,
    call: () => Promise<T>,
    o: {
      notBefore?: number | undefined;
      deadline?: number | undefined;
      /** The call's lane and job (lanes.ts): its place among the tenant's waiting calls. Default normal. */
      claim?: LaneClaim | undefined;
    } = {},
  ): Promise<T> {
    const deadline = o.deadline ?? Infinity;
    const claim = o.claim ?? { lane: 'normal' };
    if (!conversationId) {
      await this.tenantTurn(tenantId, deadline, claim);
      return call();
    }
    // One call at a time per chat (which keeps a user's messages in order); the conversation's
    // pacing is awaited before the tenant's, so a busy chat never holds tenant budget.
    const key = `${tenantId}|${conversationId}`;
    const entry = this.conversation(key);
    let gaveUp = false;
    const ready = entry.busy.then(async () => {
      if (gaveUp) throw new DeadlinePassedError();
      const wait = o.notBefore === undefined ? 0 : o.notBefore - Date.now();
      if (wait > 0 && Date.now() + wait > deadline) throw new DeadlinePassedError(wait);
      if (wait > 0) await sleep(wait);
      await entry.pacer.turn(deadline);
      await this.tenantTurn(tenantId, deadline, claim);
    });
    const run = beforeDeadline(ready, deadline, () => (gaveUp = true)).then(call);
    // The next call in this chat waits for this one's turn (even given up) and its call.
    entry.busy = Promise.allSettled([ready, run]);
    return run;
  }

  /**
   * The time (epoch ms) the next send to a chat may start, given the one reserved before it: spaced
   * so that, whichever instances make them, a chat's sends stay under its per-second limit. The
   * reservation is written with the delivery claim (one ETag-guarded transaction, no extra cost).
   */
  reserveChatTime(previous: number | undefined, at = Date.now()): number {
    const gap = 1000 / (this.options.conversationPerSecond * CHAT_SHARE);
    return Math.max(at, (previous ?? 0) + gap);
  }

  /**
   * Teams answered 429. The tenant eases off for a moment and the call is retried; many in a second
   * (at least 3, and at least a tenth of the tenant's calls in that second) mean the tenant budget is
   * exceeded (another app, Teams' own load), so the tenant pauses. A stray 429 now and then (Teams
   * sends some under any load) must not stop a whole tenant for its Retry-After. 412 and 5xx answers
   * are retried the same way but say nothing about the tenant's budget.
   */
  throttled(tenantId: string, retryAfterMs: number, status = 429): void {
    if (status !== 429) return;
    this.tenant(tenantId).ease();
    const at = Date.now();
    const recent = lastSecond(this.recentThrottles, tenantId, at);
    recent.push(at);
    const calls = lastSecond(this.callStarts, tenantId, at).length;
    if (recent.length >= Math.max(PAUSE_AFTER_429S, calls * PAUSE_SHARE))
      this.tenant(tenantId).pause(retryAfterMs);
  }

  /** Waits for the tenant's turn: a time from the shared budget if there is one, else local pacing. */
  private async tenantTurn(tenantId: string, deadline: number, claim: LaneClaim): Promise<void> {
    await this.waitTurn(tenantId, deadline, claim);
    const at = Date.now();
    lastSecond(this.callStarts, tenantId, at).push(at);
  }

  private async waitTurn(tenantId: string, deadline: number, claim: LaneClaim): Promise<void> {
    const budget = this.options.budget;
    const tenant = this.tenant(tenantId);
    if (!budget) return this.gate(tenantId).pass(claim, deadline, () => tenant.turn(deadline));
    for (;;) {
      const time = await budget.take(tenantId, deadline, claim);
      if (time === undefined) throw new DeadlinePassedError();
      const until = Math.max(time, tenant.pausedUntilEpoch());
      // Paused after 429s until past the deadline: give up now rather than hold a claim that long.
      if (until > deadline) throw new DeadlinePassedError(until - Date.now());
      const wait = until - Date.now();
      if (wait > 0) await sleep(wait);
      if (Date.now() - time <= budget.maxLateMs) return;
      // Started too late (a busy event loop, a pause after 429s): the time is gone, take the next.
      this.droppedTimes++;
    }
  }

  private gate(tenantId: string): LaneGate {
    let gate = this.gates.get(tenantId);
    if (!gate) this.gates.set(tenantId, (gate = new LaneGate()));
    return gate;
  }

  private pacer(perSecond: number): Pacer {
    return new Pacer(1000 / (perSecond * this.headroom), perSecond);
  }

  private tenant(tenantId: string): Pacer {
    let pacer = this.tenants.get(tenantId);
    if (!pacer) {
      pacer = this.pacer(this.options.tenantPerSecond);
      this.tenants.set(tenantId, pacer);
    }
    return pacer;
  }

  private conversation(key: string) {
    let entry = this.conversations.get(key);
    if (!entry) {
      this.forgetIdleConversations();
      entry = { pacer: this.pacer(this.options.conversationPerSecond), busy: Promise.resolve() };
      this.conversations.set(key, entry);
    }
    return entry;
  }

  /** Chats idle for a minute are dropped, so the map stays as small as the live traffic. */
  private forgetIdleConversations(): void {
    if (this.conversations.size < 10_000) return;
    const cutoff = Date.now() - 60_000;
    for (const [key, entry] of this.conversations)
      if (entry.pacer.lastUsed < cutoff) this.conversations.delete(key);
  }
}

/** The times (epoch ms, oldest first) kept under `key` that fall in the second before `at`. */
function lastSecond(times: Map<string, number[]>, key: string, at: number): number[] {
  let list = times.get(key);
  if (!list) times.set(key, (list = []));
  while (list.length && at - list[0]! >= 1000) list.shift();
  return list;
}
