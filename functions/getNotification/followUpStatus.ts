import type { DeliveryRecord, DeliveryStatus } from '../../shared/stores/deliveryRecords.js';
import type { JobContent } from '../../shared/stores/jobContent.js';

/**
 * What a job's status shows of what happened after the send: per recipient (revision shown, read,
 * acknowledged, recalled, a failed update or recall) and totals. `updated` counts copies showing a
 * later revision than the first; read/acknowledged/updated overlap with `sent` and `recalled`.
 */

export const FINAL_STATUSES = ['sent', 'failed', 'skipped', 'recalled', 'cancelled'] as const;

export interface FollowUpTotals {
  recalled: number;
  cancelled: number;
  read: number;
  acknowledged: number;
  updated: number;
  /** Copies whose latest update or recall failed (see each recipient's `changeFailure`). */
  changeFailed: number;
}

export const emptyFollowUpTotals = (): FollowUpTotals => ({
  recalled: 0,
  cancelled: 0,
  read: 0,
  acknowledged: 0,
  updated: 0,
  changeFailed: 0,
});

/** The status a reader sees: `sending` is an attempt in flight, still pending to them. */
export const shownStatus = (r: DeliveryRecord | undefined): DeliveryStatus =>
  !r || r.status === 'sending' ? 'pending' : r.status;

export function countFollowUps(totals: FollowUpTotals, r: DeliveryRecord | undefined): void {
  if (!r) return;
  if (r.status === 'recalled') totals.recalled++;
  if (r.status === 'cancelled') totals.cancelled++;
  if (r.readAt) totals.read++;
  if (r.acknowledgedAt) totals.acknowledged++;
  if (r.revisedAt) totals.updated++;
  if (r.changeFailure) totals.changeFailed++;
}

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
export function contentSummary(content: JobContent | undefined) {
  if (!content) return {};
  return {
    revision: content.revision,
    ...(content.revisedAt ? { revisedAt: content.revisedAt } : {}),
    ...(content.recallRequestedAt ? { recallRequestedAt: content.recallRequestedAt } : {}),
    ...(content.recalledAt ? { recalledAt: content.recalledAt } : {}),
    acknowledge: !!content.acknowledgeTitle,
  };
}
