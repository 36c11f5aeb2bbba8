import { context, trace } from '@opentelemetry/api';

/** The W3C `traceparent` of the active span, so a queued job carries its producer's operation. */
export function currentTraceparent(): string | undefined {
  const span = trace.getSpan(context.active());
  const ctx = span?.spanContext();
  if (!ctx || !trace.isSpanContextValid(ctx)) return undefined;
  return `00-${ctx.traceId}-${ctx.spanId}-${(ctx.traceFlags & 1).toString(16).padStart(2, '0')}`;
}
