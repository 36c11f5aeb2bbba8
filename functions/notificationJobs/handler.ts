import type { InvocationContext } from '@azure/functions';
import { services } from '../../shared/container.js';
import { decodeJobText } from '../../shared/jobs/decode.js';
import { JOBS_QUEUE } from '../../shared/queues.js';
import { withConsumerSpan } from '../../shared/telemetry/traceContext.js';
import { queueMessageText, reportQueueAge } from '../../shared/triggers/queueTelemetry.js';
import { completionCheck } from '../notificationDeliveries/completion.js';
import { plural } from '../../shared/text.js';

export async function handleJobMessage(item: unknown, context: InvocationContext): Promise<void> {
  const meta = context.triggerMetadata ?? {};
  const raw = queueMessageText(item, context);
  // The host passes the text as-is (host.json messageEncoding "none"); it is decoded here, like every
  // other entry point does, so plain JSON, base64 JSON and a leading BOM all read the same.
  const decoded = decodeJobText(raw);
  const value = decoded.ok ? decoded.value : undefined;
  const job = value && typeof value === 'object' ? (value as { id?: unknown; traceparent?: unknown }) : {};
  const jobId = typeof job.id === 'string' ? job.id : undefined;
  // The producer's trace continues here, so enqueue and intake share one operation ID.
  await withConsumerSpan(
    'Process notification job',
    job.traceparent,
    { 'messaging.destination.name': JOBS_QUEUE, ...(jobId ? { jobId } : {}) },
    async (span) => {
      reportQueueAge(JOBS_QUEUE, meta, undefined);
      // Retried by the host; after the last attempt the poison-queue function records it (notificationJobsPoison).
      const result = await services().intake.accept(raw, {
        source: 'queue',
        // Kept readable in RejectedJobs: the decoded text when the message was base64.
        rawBody: decoded.text,
        queueMessageId: typeof meta.id === 'string' ? meta.id : undefined,
        acceptedAt:
          typeof meta.insertionTime === 'string' ? new Date(meta.insertionTime).toISOString() : undefined,
      });
      span.setAttributes({ outcome: result.ok ? 'accepted' : 'rejected' });
      if (result.ok && result.paced) {
        context.log(
          `job ${result.jobId}: its window of deliveries is full; queues more in ${result.delayMs} ms`,
        );
      } else if (result.ok && result.deferred && result.delayMs !== undefined) {
        context.log(`job ${result.jobId}: Microsoft Graph asked to wait; continues in ${result.delayMs} ms`);
      } else if (result.ok && result.deferred) {
        context.log(`job ${result.jobId}: due more than 7 days ahead; back on the jobs queue for 7 days`);
      } else if (result.ok) {
        // An audience job can have every outcome before its expansion says it is done.
        await completionCheck(result, context);
        context.log(
          `job ${result.jobId}: ${plural(result.recipients, 'delivery', 'deliveries')} queued${result.resumed ? ' (resumed)' : ''}`,
        );
      } else {
        // Set aside in RejectedJobs; returning normally completes the message so it is never retried.
        // The errors stay in that row: they can quote the job (JSON parse snippets, property names).
        context.warn(
          `job ${result.jobId ?? '(no id)'} rejected: ${result.reason} (${plural(result.errors.length, 'error')}; see RejectedJobs)`,
        );
      }
    },
  );
}
