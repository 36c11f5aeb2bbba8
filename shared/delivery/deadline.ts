/**
 * One deadline per invocation of the deliveries function, safely below host.json `functionTimeout`
 * (past which the host restarts the worker and every invocation on it dies: a delivery caught between
 * Teams' answer and its record would be sent again) and below the claim lease (past which another copy
 * may take a delivery over). The budget, the rate limiter and the Teams calls honour it; what cannot
 * start in time goes back to the queue (`pending` and a reschedule, or the batch's untouched rest).
 */

/** Raised by a wait that would end past the deadline; `retryInMs`: when it would likely be worth trying again. */
export class DeadlinePassedError extends Error {
  override name = 'DeadlinePassedError';
  constructor(readonly retryInMs = 0) {
    super('the invocation deadline would pass first');
  }
}

export interface Deadline {
  /** Epoch ms: no Teams call, and no wait for one, starts past this. */
  at: number;
  /** Epoch ms: what a call already made still has to write (its outcome) is given up past this. */
  hardAt: number;
  /** The longest a Teams call may take (the connector's own timeout, at most). */
  callTimeoutMs: number;
}

export interface DeadlinePolicy {
  /** host.json functionTimeout; undefined: none ("-1"). */
  functionTimeoutMs: number | undefined;
  claimLeaseMs: number;
  connectorTimeoutMs: number;
}

/** What the host is left for its own work past our hard stop: 10% of the timeout, at least 2 s. */
const HOST_SHARE = 0.1;
const MIN_HOST_MS = 2000;
/** Kept free after the last call for its outcome write (and the batch's hand-back). */
const OUTCOME_MS = 5000;
/** Without a function timeout, an invocation still stops within this. */
const UNBOUNDED_MS = 10 * 60_000;

/**
 * The deadline of an invocation that started at `startedAt` (epoch ms). With host.json's 5 minutes and
 * the 2-minute lease: calls start within 60 s (half the lease), outcomes are written within 270 s.
 */
export function invocationDeadline(startedAt: number, p: DeadlinePolicy): Deadline {
  const timeout = p.functionTimeoutMs;
  const budget = timeout === undefined ? UNBOUNDED_MS : timeout - Math.max(MIN_HOST_MS, timeout * HOST_SHARE);
  // The last call and its outcome write must fit before the hard stop, leaving at least half for calls.
  const afterLastCall = Math.min(p.connectorTimeoutMs + OUTCOME_MS, budget / 2);
  const at = startedAt + Math.max(0, Math.min(p.claimLeaseMs / 2, budget - afterLastCall));
  return {
    at,
    hardAt: startedAt + Math.max(0, budget),
    callTimeoutMs: Math.max(100, Math.min(p.connectorTimeoutMs, afterLastCall - OUTCOME_MS / 2)),
  };
}

/** Milliseconds left before `deadline.at` (negative once passed). */
export const timeLeft = (deadline: Deadline, now = Date.now()) => deadline.at - now;
