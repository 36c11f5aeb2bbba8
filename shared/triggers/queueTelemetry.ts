import type { InvocationContext } from '@azure/functions';
import { poisonQueueOf } from '../queues.js';
import { EventNames, MetricNames, telemetry } from '../telemetry/telemetry.js';

/** What the queue functions share: the message as text, and their telemetry. */

type TriggerMetadata = Record<string, unknown>;

/** The queue message as the host received it (its text), whatever the host made of it. */
export function queueMessageText(item: unknown, context: InvocationContext): string {
  const meta = context.triggerMetadata ?? {};
  if (typeof meta.queueTrigger === 'string') return meta.queueTrigger;
  return typeof item === 'string' ? item : JSON.stringify(item);
}

/** How long the message waited in the queue before this attempt (insertion to now). */
export function reportQueueAge(queue: string, meta: TriggerMetadata, tenantId: string | undefined): void {
  const inserted = typeof meta.insertionTime === 'string' ? Date.parse(meta.insertionTime) : NaN;
  if (Number.isNaN(inserted)) return;
  telemetry().metric(MetricNames.queueAge, Math.max(0, Date.now() - inserted), { queue, tenantId });
}

/** A message that reached `<queue>-poison`, once it is recorded: the poison alert counts these. */
export function reportPoisoned(queue: string, reason: string, jobId?: string, tenantId?: string): void {
  telemetry().event(EventNames.messagePoisoned, {
    queue,
    poisonQueue: poisonQueueOf(queue),
    jobId,
    tenantId,
    reason,
  });
}
