import { randomBytes } from 'node:crypto';
import {
  context,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Link,
  type SpanContext,
} from '@opentelemetry/api';

/**
 * W3C trace context for queued work. A job carries the `traceparent` of the span that enqueued it;
 * the queue functions continue that trace, so enqueue, intake, every delivery attempt and every Bot
 * Connector call share one trace ID (the operation ID in Application Insights). Works with no
 * telemetry configured too: the trace IDs still travel, nothing is recorded.
 */

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const tracer = () => trace.getTracer('teams-notifier');

function parseTraceparent(value: unknown): SpanContext | undefined {
  if (typeof value !== 'string') return undefined;
  const match = TRACEPARENT.exec(value.trim().toLowerCase());
  if (!match) return undefined;
  const ctx: SpanContext = {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: parseInt(match[3]!, 16) & 1,
    isRemote: true,
  };
  return trace.isSpanContextValid(ctx) ? ctx : undefined;
}

function formatTraceparent(ctx: SpanContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${(ctx.traceFlags & 1).toString(16).padStart(2, '0')}`;
}

/** A fresh traceparent: a new trace, or a new span in `traceId`'s trace. Sampled. */
function newTraceparent(traceId?: string): string {
  return formatTraceparent({
    traceId: traceId ?? randomBytes(16).toString('hex'),
    spanId: randomBytes(8).toString('hex'),
    traceFlags: TraceFlags.SAMPLED,
  });
}

function activeSpanContext(ctx: Context = context.active()): SpanContext | undefined {
  const span = trace.getSpanContext(ctx);
  return span && trace.isSpanContextValid(span) ? span : undefined;
}

/** The W3C `traceparent` of the active span, so a queued job carries its producer's operation. */
export function currentTraceparent(): string | undefined {
  const ctx = activeSpanContext();
  return ctx ? formatTraceparent(ctx) : undefined;
}

/**
 * Runs `send` inside a producer span ("enqueue") and hands it the traceparent to put in the message.
 * Without a recording SDK the span is a no-op, so the traceparent is made here: a new span ID in the
 * active trace, or a new trace.
 */
export async function withProducerSpan<T>(
  name: string,
  attributes: Attributes,
  send: (traceparent: string) => Promise<T>,
): Promise<T> {
  const span = tracer().startSpan(name, { kind: SpanKind.PRODUCER, attributes });
  const own = span.spanContext();
  const traceparent = trace.isSpanContextValid(own)
    ? formatTraceparent(own)
    : newTraceparent(activeSpanContext()?.traceId);
  const ctx = trace.setSpan(context.active(), span);
  try {
    return await context.with(ctx, () => send(traceparent));
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
}

/**
 * Runs `work` inside a consumer span ("process") whose parent is the message's traceparent, so the
 * message's trace wins over the invocation's own (the Functions host starts a new trace per queue
 * message). The invocation's context, when different, is kept as a span link.
 */
export async function withConsumerSpan<T>(
  name: string,
  traceparent: unknown,
  attributes: Attributes,
  work: (span: { setAttributes(a: Attributes): void }) => Promise<T>,
): Promise<T> {
  const invocation = activeSpanContext();
  const parent = parseTraceparent(traceparent);
  const parentCtx = parent ? trace.setSpanContext(context.active(), parent) : context.active();
  const links: Link[] =
    parent && invocation && invocation.traceId !== parent.traceId ? [{ context: invocation }] : [];
  // ai.operation.name names the request row in Application Insights.
  const span = tracer().startSpan(
    name,
    { kind: SpanKind.CONSUMER, attributes: { ...attributes, 'ai.operation.name': name }, links },
    parentCtx,
  );
  try {
    const result = await context.with(trace.setSpan(parentCtx, span), () => work(span));
    span.setStatus({ code: SpanStatusCode.OK });
    return result;
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
}
