import { MetricNames, telemetry } from '../telemetry/telemetry.js';

/** Queue-trigger telemetry shared by the two queue functions. */

type TriggerMetadata = Record<string, unknown>;

/** How long the message waited in the queue before this attempt (insertion to now). */
export function reportQueueAge(queue: string, meta: TriggerMetadata, tenantId: string | undefined): void {
  const inserted = typeof meta.insertionTime === 'string' ? Date.parse(meta.insertionTime) : NaN;
  if (Number.isNaN(inserted)) return;
  telemetry().metric(MetricNames.queueAge, Math.max(0, Date.now() - inserted), { queue, tenantId });
}
