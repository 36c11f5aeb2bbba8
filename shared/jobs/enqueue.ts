import type { QueueSender } from '../queues.js';
import { encodeMessage } from '../queues.js';
import { withProducerSpan } from '../telemetry/traceContext.js';
import { MAX_QUEUE_MESSAGE_BYTES, toWireJob, type NotificationJob } from './contract.js';

/**
 * The one way a valid job goes onto the jobs queue (HTTP intake and the typed producer both use it):
 * the job carries this enqueue's trace context unless the caller set its own traceparent, and a job
 * that does not fit in one queue message is refused, not sent.
 */
export async function enqueueJob(
  job: NotificationJob,
  queue: QueueSender,
  delayMs = 0,
): Promise<{ ok: true } | { ok: false; bytes: number }> {
  return withProducerSpan(
    'Enqueue notification job',
    { jobId: job.id, tenantId: job.tenantId },
    async (traceparent) => {
      const wire = toWireJob({ ...job, traceparent: job.traceparent ?? traceparent });
      const bytes = Buffer.byteLength(encodeMessage(wire));
      if (bytes > MAX_QUEUE_MESSAGE_BYTES) return { ok: false, bytes };
      await queue.send(wire, delayMs);
      return { ok: true };
    },
  );
}

/** Whether the job fits one queue message once it carries a traceparent (checked before it is recorded). */
export function fitsQueueMessage(job: NotificationJob): boolean {
  const traceparent = job.traceparent ?? `00-${'0'.repeat(32)}-${'0'.repeat(16)}-00`;
  return Buffer.byteLength(encodeMessage(toWireJob({ ...job, traceparent }))) <= MAX_QUEUE_MESSAGE_BYTES;
}
