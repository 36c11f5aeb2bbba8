import { grant, type BudgetPolicy, type BudgetState } from '../delivery/budget/schedule.js';

/**
 * A producer's quotas as pure decisions, on the tenant budget's schedule (delivery/budget/schedule.ts):
 * a quota of `limit` per `window` is a schedule spaced `window / limit` apart that may be booked up to
 * one window ahead. So a producer may send `limit` at once, then one more each `window / limit`,
 * whatever the number of instances: the only shared state is the schedule's `next`, kept in Table
 * Storage (azureStorage/tableQuotaStore.ts) like the tenant budget.
 */

export type QuotaName = 'jobs' | 'recipients';
export type QuotaStates = Partial<Record<QuotaName, BudgetState>>;

export interface QuotaLimits {
  jobsPerMinute: number;
  recipientsPerHour: number;
}

export const WINDOW_MS: Record<QuotaName, number> = { jobs: 60_000, recipients: 3_600_000 };

export function quotaPolicy(limit: number, windowMs: number): BudgetPolicy {
  const gap = windowMs / limit;
  return {
    ratePerSecond: (limit * 1000) / windowMs,
    headroom: 1,
    // `limit` times fit from now: the last one `gap` short of a window ahead (1 ms against rounding).
    horizonMs: windowMs - gap + 1,
    maxBlock: limit,
    leadMs: 0,
    maxLateMs: 0,
    gatherMs: 0,
    // Quotas have no lanes: nothing raises the yield signal on their rows.
    urgentHoldMs: 0,
    yieldHorizonMs: windowMs,
  };
}

export type QuotaDecision =
  | { ok: true; states: Required<QuotaStates> }
  | { ok: false; quota: QuotaName; limit: number; retryAfterSeconds: number };

/** Books one job and its recipients, or says which quota is spent and when to try again. */
export function decideQuota(
  states: QuotaStates,
  now: number,
  recipients: number,
  limits: QuotaLimits,
): QuotaDecision {
  const wants: Array<[QuotaName, number, number]> = [
    ['jobs', 1, limits.jobsPerMinute],
    ['recipients', Math.max(1, recipients), limits.recipientsPerHour],
  ];
  const next: QuotaStates = {};
  for (const [quota, want, limit] of wants) {
    const decision = grant(states[quota], now, Math.min(want, limit), quotaPolicy(limit, WINDOW_MS[quota]));
    if (decision.kind === 'wait') {
      return {
        ok: false,
        quota,
        limit,
        retryAfterSeconds: Math.max(1, Math.ceil((decision.retryAt - now) / 1000)),
      };
    }
    next[quota] = decision.state;
  }
  return { ok: true, states: next as Required<QuotaStates> };
}

/** What a refusal says: the quota, its size, and when to try again. */
export function quotaMessage(producer: string, d: Extract<QuotaDecision, { ok: false }>): string {
  const what = d.quota === 'jobs' ? `${d.limit} jobs per minute` : `${d.limit} recipients per hour`;
  return `producer ${producer} is over its quota of ${what}; try again in ${d.retryAfterSeconds} s`;
}
