import type { InvocationContext } from '@azure/functions';
import { services } from '../../shared/container.js';
import { JOBS_QUEUE } from '../../shared/queues.js';
import { withConsumerSpan } from '../../shared/telemetry/traceContext.js';
import { reportPoisoned, reportQueueAge } from '../../shared/triggers/queueTelemetry.js';

export async function handleJobMessage(item: unknown, context: InvocationContext): Promise<void> {
  const meta = context.triggerMetadata ?? {};
  const raw =
    typeof meta.queueTrigger === 'string'
      ? meta.queueTrigger
      : typeof item === 'string'
        ? item
        : JSON.stringify(item);
  const job = item && typeof item === 'object' ? (item as { id?: unknown; traceparent?: unknown }) : {};
  const jobId = typeof job.id === 'string' ? job.id : undefined;
  // The producer's trace continues here, so enqueue and intake share one operation ID.
  await withConsumerSpan(
    'Process notification job',
    job.traceparent,
    { 'messaging.destination.name': JOBS_QUEUE, ...(jobId ? { jobId } : {}) },
    async (span) => {
      reportQueueAge(JOBS_QUEUE, meta, undefined);
      let result;
      try {
        result = await services().intake.accept(item, {
          source: 'queue',
          rawBody: raw,
          queueMessageId: typeof meta.id === 'string' ? meta.id : undefined,
          acceptedAt:
            typeof meta.insertionTime === 'string' ? new Date(meta.insertionTime).toISOString() : undefined,
        });
      } catch (err) {
        reportPoisoned(
          JOBS_QUEUE,
          meta,
          services().queueHost.maxDequeueCount,
          jobId,
          err instanceof Error ? err.name : 'Error',
        );
        throw err;
      }
      span.setAttributes({ outcome: result.ok ? 'accepted' : 'rejected' });
      if (result.ok) {
        context.log(
          `job ${result.jobId}: ${result.recipients} deliveries queued${result.resumed ? ' (resumed)' : ''}`,
        );
      } else {
        // Set aside in RejectedJobs; returning normally completes the message so it is never retried.
        // The errors stay in that row: they can quote the job (JSON parse snippets, property names).
        context.warn(
          `job ${result.jobId ?? '(no id)'} rejected: ${result.reason} (${result.errors.length} errors; see RejectedJobs)`,
        );
      }
    },
  );
}
