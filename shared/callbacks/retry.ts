import { plural } from '../text.js';

/**
 * What to do after a callback attempt, as a pure decision: a 2xx is delivered; a refusal by the
 * receiver (other 4xx, a redirect, which is never followed) or an address the policy forbids ends it;
 * anything that may pass (no answer, 408, 425, 429, 5xx) is tried again later with growing waits,
 * `Retry-After` honoured, until MAX_ATTEMPTS.
 */

export const MAX_ATTEMPTS = 8;
const MAX_WAIT_S = 3600;

export type AttemptResult =
  | { kind: 'answered'; status: number; retryAfterSeconds?: number | undefined }
  | { kind: 'unreachable'; why: string }
  | { kind: 'refused'; why: string };

export type CallbackDecision =
  { do: 'delivered' } | { do: 'retry'; delaySeconds: number; why: string } | { do: 'give-up'; why: string };

const RETRIABLE = new Set([408, 425, 429]);

/** Waits grow threefold from `firstRetrySeconds` (10 s by default: 10 s, 30 s, 90 s, ... at most an hour). */
export function decideAfterAttempt(
  result: AttemptResult,
  attempt: number,
  firstRetrySeconds: number,
): CallbackDecision {
  if (result.kind === 'refused') return { do: 'give-up', why: result.why };
  const why = result.kind === 'answered' ? `HTTP ${result.status}` : result.why;
  if (result.kind === 'answered') {
    if (result.status >= 200 && result.status < 300) return { do: 'delivered' };
    if (!RETRIABLE.has(result.status) && result.status < 500)
      return { do: 'give-up', why: `${why}: refused by the receiver` };
  }
  if (attempt >= MAX_ATTEMPTS) return { do: 'give-up', why: `${why} after ${plural(attempt, 'attempt')}` };
  const backOff = Math.min(MAX_WAIT_S, firstRetrySeconds * 3 ** (attempt - 1));
  const asked = result.kind === 'answered' ? (result.retryAfterSeconds ?? 0) : 0;
  return { do: 'retry', delaySeconds: Math.min(MAX_WAIT_S, Math.max(backOff, asked)), why };
}

/** `Retry-After` in seconds or as an HTTP date (RFC 9110 10.2.3). */
export function retryAfterSeconds(header: string | undefined, now: number): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim());
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}
