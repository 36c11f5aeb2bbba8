import type { DeliveryRecord, DeliveryStatus } from '../../shared/stores/deliveryRecords.js';
import type { FanOut, JobContent } from '../../shared/stores/jobContent.js';

/**
 * What a job's status shows of what happened after the send: per recipient (revision shown, read,
 * acknowledged, recalled, a failed update or recall); the totals are jobs/outcomeCounts.ts.
 */

/** The status a reader sees: `sending` is an attempt in flight, still pending to them. */
export const shownStatus = (r: DeliveryRecord | undefined): DeliveryStatus =>
  !r || r.status === 'sending' ? 'pending' : r.status;

export function followUpFieldsOf(r: DeliveryRecord | undefined) {
  if (!r) return {};
  return {
    // `updated`: this copy was replaced in the chat (a later revision than the one first sent).
    updated: r.revisedAt ? true : undefined,
    revision: r.revision,
    revisedAt: r.revisedAt,
    readAt: r.readAt,
    acknowledgedAt: r.acknowledgedAt,
    recalledAt: r.recalledAt,
    changeFailure: r.changeFailure ?? undefined,
  };
}

/** The job-level part: current revision, when recalled, whether it has an acknowledgement button. */
export function contentSummary(content: JobContent | undefined, fanOut?: FanOut | undefined) {
  if (!content) return {};
  return {
    ...(fanOut ? { changes: changesOf(fanOut) } : {}),
    revision: content.revision,
    ...(content.revisedAt ? { revisedAt: content.revisedAt } : {}),
    ...(content.recallRequestedAt ? { recallRequestedAt: content.recallRequestedAt } : {}),
    ...(content.recalledAt ? { recalledAt: content.recalledAt } : {}),
    acknowledge: !!content.acknowledgeTitle,
  };
}

/** How far the latest update's or recall's fan-out got (its change tasks then go out one by one). */
const changesOf = ({ op, requestedAt, queued, done, failed }: FanOut) => ({
  op,
  requestedAt,
  queued,
  done,
  ...(failed ? { failed } : {}),
});
