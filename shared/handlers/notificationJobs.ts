import type { InvocationContext } from '@azure/functions';
import { services } from '../container.js';

/** Queue trigger on notification-jobs: validate, record and fan out one delivery per recipient. */
export async function handleJobMessage(item: unknown, context: InvocationContext): Promise<void> {
  const meta = context.triggerMetadata ?? {};
  const raw =
    typeof meta.queueTrigger === 'string'
      ? meta.queueTrigger
      : typeof item === 'string'
        ? item
        : JSON.stringify(item);
  const result = await services().intake.accept(item, {
    source: 'queue',
    rawBody: raw,
    queueMessageId: typeof meta.id === 'string' ? meta.id : undefined,
    acceptedAt:
      typeof meta.insertionTime === 'string' ? new Date(meta.insertionTime).toISOString() : undefined,
  });
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
}
