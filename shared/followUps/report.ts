import { EventNames, MetricNames, telemetry } from '../telemetry/telemetry.js';

type Kind = 'updated' | 'recalled' | 'cancelled' | 'changeFailed' | 'read' | 'acknowledged';

const EVENT: Record<Kind, string> = {
  updated: EventNames.messageUpdated,
  recalled: EventNames.messageRecalled,
  cancelled: EventNames.deliveryCancelled,
  changeFailed: EventNames.changeFailed,
  read: EventNames.messageRead,
  acknowledged: EventNames.messageAcknowledged,
};

/** One follow-up as telemetry: its event (no message text) and the FollowUps metric. */
export function reportFollowUp(
  kind: Kind,
  where: { jobId: string; tenantId: string; recipient: string },
  props: Record<string, string | number | boolean | undefined> = {},
  measurements: Record<string, number> = {},
): void {
  const t = telemetry();
  t.event(
    EVENT[kind],
    { jobId: where.jobId, tenantId: where.tenantId, recipient: t.userRef(where.recipient), ...props },
    measurements,
  );
  t.metric(MetricNames.followUps, 1, { tenantId: where.tenantId, kind });
  if (kind === 'read' && measurements.timeToReadMs !== undefined) {
    t.metric(MetricNames.timeToRead, measurements.timeToReadMs, { tenantId: where.tenantId });
  }
}
