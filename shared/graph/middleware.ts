import type { Context, Middleware, MiddlewareOptions } from '@microsoft/microsoft-graph-client';
import { parseRetryAfter } from '../delivery/connector.js';
import type { Deadline } from '../delivery/deadline.js';
import { EventNames, MetricNames, telemetry } from '../telemetry/telemetry.js';
import { budgetOf, type GraphLimiters } from './limits.js';
import type { GraphCall } from './port.js';

export { parseRetryAfter };

/**
 * Our step in the Graph SDK's middleware chain, after its RetryHandler so that every attempt, the
 * SDK's own retries included, goes through it: the request must go to the configured service root
 * (never elsewhere: a next-page link from anywhere else is refused), it waits for a time from its
 * budget (limits.ts), has a time limit, and a 429 eases or pauses the budget as the Bot Connector's
 * does (delivery/rateLimiter.ts `throttled`). With an invocation deadline (delivery/deadline.ts) the
 * budget's wait ends at it (a DeadlinePassedError, nothing sent) and the request's time limit is
 * the deadline's call timeout at most.
 */

/** Which call a request is, for which tenant and by when: set on each request as a middleware option. */
export class GraphCallOption implements MiddlewareOptions {
  constructor(
    readonly call: GraphCall,
    readonly tenantId: string,
    readonly deadline?: Deadline | undefined,
  ) {}
}

/** Thrown for a request to anywhere but the configured service root; nothing is sent. */
export class OffRootError extends Error {
  override name = 'OffRootError';
}

/** Calls and 429 answers per budget, for tests and the benchmark. */
export interface GraphCallStats {
  calls: number;
  throttled: number;
}

export class BudgetMiddleware implements Middleware {
  private next: Middleware | undefined;
  readonly stats: GraphCallStats = { calls: 0, throttled: 0 };

  constructor(private readonly o: { origin: string; limiters: GraphLimiters; timeoutMs: number }) {}

  setNext(next: Middleware): void {
    this.next = next;
  }

  async execute(context: Context): Promise<void> {
    const url = typeof context.request === 'string' ? context.request : context.request.url;
    if (new URL(url).origin !== this.o.origin)
      throw new OffRootError(`refused a Graph request to ${new URL(url).host}`);
    const option = context.middlewareControl?.getMiddlewareOptions(GraphCallOption) as
      GraphCallOption | undefined;
    if (!option) throw new Error('a Graph request without its call');
    const limiter = this.o.limiters[budgetOf(option.call)];
    const deadline = option.deadline;
    await limiter.schedule(
      option.tenantId,
      undefined,
      async () => {
        this.stats.calls++;
        const timeoutMs = deadline
          ? Math.min(this.o.timeoutMs, deadline.callTimeoutMs, Math.max(1, deadline.hardAt - Date.now()))
          : this.o.timeoutMs;
        context.options = { ...context.options, signal: AbortSignal.timeout(timeoutMs) };
        await this.next!.execute(context);
      },
      { deadline: deadline?.at },
    );
    const status = context.response?.status ?? 0;
    if (status === 429 || status === 503) {
      const retryAfterMs = parseRetryAfter(context.response?.headers.get('retry-after'));
      if (status === 429) this.stats.throttled++;
      limiter.throttled(option.tenantId, retryAfterMs ?? 1000, status);
      telemetry().event(
        EventNames.graphThrottled,
        { tenantId: option.tenantId, call: option.call, status, hasRetryAfter: retryAfterMs !== undefined },
        { retryAfterMs: retryAfterMs ?? 0 },
      );
      telemetry().metric(MetricNames.throttles, 1, { tenantId: option.tenantId, service: 'graph' });
    }
  }
}
