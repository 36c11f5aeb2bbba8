import type { DeliveryOutcome } from '../stores/deliveryRecords.js';
import { EventNames, MetricNames, telemetry } from '../telemetry/telemetry.js';
import { laneOfTask, type DeliveryTask } from './task.js';

/** One delivery's final outcome, as telemetry: an outcome metric, and a Sent, Failed or Skipped event. */
export function reportOutcome(task: DeliveryTask, outcome: DeliveryOutcome, attempts: number): void {
  const t = telemetry();
  const props = {
    jobId: task.jobId,
    tenantId: task.tenantId,
    recipient: t.userRef(task.recipient),
    reason: outcome.reason,
    lane: laneOfTask(task),
  };
  t.metric(MetricNames.outcomes, 1, { tenantId: task.tenantId, outcome: outcome.status });
  // Accept (or notBefore) to Teams' answer, per lane: the workbook's lane tile and the urgent-wait alert.
  if (outcome.waitMs !== undefined)
    t.metric(MetricNames.deliveryWait, outcome.waitMs, { tenantId: task.tenantId, lane: laneOfTask(task) });
  if (outcome.status === 'sent') {
    const latency = Date.now() - Date.parse(task.acceptedAt);
    t.event(
      EventNames.deliverySent,
      {
        ...props,
        firstContact: outcome.firstContact === true,
        chat: outcome.firstContact ? 'created' : 'cached',
      },
      {
        latencyMs: latency,
        attempts,
        reschedules: task.reschedules,
        ...(outcome.waitMs !== undefined ? { waitMs: outcome.waitMs } : {}),
      },
    );
    t.metric(MetricNames.deliveryLatency, latency, { tenantId: task.tenantId });
  } else if (outcome.status === 'failed') {
    t.event(EventNames.deliveryFailed, props, { attempts, reschedules: task.reschedules });
  } else if (outcome.status === 'cancelled') {
    t.event(EventNames.deliveryCancelled, props);
  } else {
    t.event(EventNames.deliverySkipped, props);
  }
}
