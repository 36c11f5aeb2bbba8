import { EventNames, MetricNames, telemetry } from '../telemetry/telemetry.js';
import type { ConnectorResult } from './connector.js';
import { DeadlinePassedError, timeLeft, type Deadline } from './deadline.js';
import type { FailureAction, SendState } from './policy.js';
import type { DeliveryRateLimiter } from './rateLimiter.js';
import type { DeliveryTimings } from './task.js';
import type { Lane } from './lanes.js';

/**
 * The one way the app calls Teams for a recipient, for sends and for updates and recalls alike: each
 * call waits its turn in the rate limits, re-checks its claim just before it leaves (`fence`), and
 * each answer goes through the error policy (`decide`: policy.ts for sends, changePolicy.ts for
 * changes). Throttling and brief faults are waited out here while the invocation's deadline allows;
 * every other end goes back to the caller, which records it.
 */

type Failure = Extract<ConnectorResult<unknown>, { ok: false }>;

export type CallEnd<T> =
  | { do: 'accept'; answer: Extract<ConnectorResult<T>, { ok: true }> }
  /** The claim was taken over before the call: this copy must not touch the delivery any more. */
  | { do: 'fenced' }
  /** Throttled beyond the in-process waits, or no time left before the deadline: a new message later. */
  | { do: 'reschedule'; delayMs: number; reason: string }
  | { do: 'retry'; reason: string; detail: string }
  | { do: 'fail'; reason: string; detail: string }
  | { do: 'reopen-chat'; reason: string; detail: string }
  | { do: 'deactivate'; reason: string; detail: string };

export interface TeamsCallOptions {
  limiter: DeliveryRateLimiter;
  tenantId: string;
  jobId: string;
  /** The delivery's lane: its place among the tenant's waiting calls (lanes.ts). Default normal. */
  lane?: Lane | undefined;
  deadline: Deadline;
  /** Throttled calls wait in process up to this long before being rescheduled through the queue. */
  maxWaitMs: number;
  /** Reschedules so far: the back-off without Retry-After keeps growing across them. */
  reschedules: number;
  decide: (failure: Failure, state: SendState) => FailureAction;
  /** Re-checks the claim right before a call; false when it was lost. */
  fence?: (() => Promise<boolean>) | undefined;
  timings?: DeliveryTimings | undefined;
}

export interface TeamsCall<T> {
  /** For telemetry: CreateConversation, SendToConversation, UpdateActivity, DeleteActivity. */
  name: string;
  conversationId?: string | undefined;
  /** A time the chat's shared budget reserved for this call (epoch ms). */
  notBefore?: number | undefined;
  /** The call itself, with the timeout it must keep; may answer without calling (a recall found). */
  run: (timeoutMs: number) => Promise<ConnectorResult<T>>;
}

/** Connector calls per delivery attempt, all kinds together: more means throttling that does not end. */
const MAX_CALLS = 6;
const FENCED = Symbol('fenced');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The calls of one delivery (or change) attempt: their count and the retries so far are shared. */
export class TeamsCalls {
  private calls = 0;
  private transientRetries = 0;
  private reopened = false;

  constructor(private readonly o: TeamsCallOptions) {}

  async call<T>(c: TeamsCall<T>): Promise<CallEnd<T>> {
    const { limiter, tenantId, deadline, timings } = this.o;
    let notBefore = c.notBefore;
    for (;;) {
      if (this.calls >= MAX_CALLS) {
        return { do: 'retry', reason: 'TooManyConnectorCalls', detail: 'gave up after repeated throttling' };
      }
      const asked = performance.now();
      let started = asked;
      let answer: ConnectorResult<T> | typeof FENCED;
      try {
        answer = await limiter.schedule(
          tenantId,
          c.conversationId,
          async () => {
            started = performance.now();
            if (this.o.fence && !(await this.o.fence())) return FENCED;
            return c.run(Math.min(deadline.callTimeoutMs, deadline.hardAt - Date.now()));
          },
          { notBefore, deadline: deadline.at, claim: { lane: this.o.lane ?? 'normal', jobId: this.o.jobId } },
        );
      } catch (err) {
        if (!(err instanceof DeadlinePassedError)) throw err;
        return { do: 'reschedule', delayMs: err.retryInMs, reason: 'Deadline' };
      } finally {
        if (timings) {
          timings.waitMs += started - asked;
          timings.callMs += performance.now() - started;
        }
      }
      notBefore = undefined;
      if (answer === FENCED) return { do: 'fenced' };
      const call = this.calls++;
      if (answer.ok) return { do: 'accept', answer };
      const action = this.o.decide(answer, {
        call,
        reschedules: this.o.reschedules,
        hasChat: c.name !== 'CreateConversation',
        reopened: this.reopened,
        transientRetries: this.transientRetries,
        maxWaitMs: this.o.maxWaitMs,
      });
      const detail = answer.message;
      switch (action.do) {
        case 'wait':
        case 'reschedule':
          this.throttled(c.name, answer, action.delayMs);
          if (action.do === 'wait' && action.delayMs < timeLeft(deadline)) {
            await sleep(action.delayMs);
            continue;
          }
          return { do: 'reschedule', delayMs: action.delayMs, reason: action.reason };
        case 'retry-soon':
          // A brief 5xx or timeout usually clears in a moment: retry here before handing the message
          // back to the queue, whose visibility timeout (host.json) is many seconds.
          if (action.delayMs >= timeLeft(deadline)) return { do: 'retry', reason: action.reason, detail };
          this.transientRetries++;
          await sleep(action.delayMs);
          continue;
        case 'reopen-chat':
          this.reopened = true;
          return { ...action, detail };
        default:
          return { ...action, detail };
      }
    }
  }

  private throttled(name: string, answer: Failure, delayMs: number): void {
    const { tenantId, jobId } = this.o;
    if (answer.status === 0) return; // no answer: not throttling, nothing for the limiter to learn
    this.o.limiter.throttled(tenantId, delayMs, answer.status);
    telemetry().event(
      EventNames.throttled,
      {
        jobId,
        tenantId,
        status: answer.status,
        call: name,
        hasRetryAfter: answer.retryAfterMs !== undefined,
      },
      { retryAfterMs: delayMs },
    );
    telemetry().metric(MetricNames.throttles, 1, { tenantId });
  }
}
