import type { FollowUpFields } from '../stores/deliveryRecords.js';
import { activityOrderKey } from '../followUps/readReceipts.js';
import { keyPart } from './table.js';

/**
 * Rows and columns of what happens after a send (conversationRows.ts lists the table's rows):
 *   chat|<conversationId>|<activity order key>  a sent message → its job and recipient
 *   readmark|<conversationId>                   the chat's last handled read receipt watermark
 * and the follow-up columns of a `dlv|` delivery row.
 */

export const chatPrefix = (conversationId: string) => `chat|${keyPart(conversationId)}|`;
export const chatRow = (conversationId: string, activityId: string) =>
  chatPrefix(conversationId) + orderKeyPart(activityOrderKey(activityId));

/** A non-numeric activity ID (`s…`) is taken as Teams gave it: encoded, like any ID in a key. */
export const orderKeyPart = (orderKey: string) =>
  orderKey.startsWith('s') ? `s${keyPart(orderKey.slice(1))}` : orderKey;
export const readMarkRow = (conversationId: string) => `readmark|${keyPart(conversationId)}`;

/**
 * The `chat|` row of a sent message, as a list to write with the delivery's `sent` outcome in its
 * transaction; empty for any other outcome.
 */
export function chatIndexRows(
  partitionKey: string,
  delivery: { jobId: string; recipient: string },
  outcome: { status: string; conversationId?: string | undefined; activityId?: string | undefined },
) {
  if (outcome.status !== 'sent' || !outcome.conversationId || !outcome.activityId) return [];
  return [
    {
      partitionKey,
      rowKey: chatRow(outcome.conversationId, outcome.activityId),
      jobId: delivery.jobId,
      recipient: delivery.recipient,
      activityId: outcome.activityId,
    },
  ];
}

type Row = Record<string, unknown>;

export function toFollowUpFields(row: Row): FollowUpFields {
  const opt = (name: string) => (row[name] as string) || undefined;
  let changeFailure: FollowUpFields['changeFailure'];
  try {
    changeFailure = row.changeFailure ? JSON.parse(String(row.changeFailure)) : undefined;
  } catch {
    changeFailure = undefined;
  }
  return {
    revision: typeof row.revision === 'number' ? row.revision : undefined,
    revisedAt: opt('revisedAt'),
    recalledAt: opt('recalledAt'),
    readAt: opt('readAt'),
    acknowledgedAt: opt('acknowledgedAt'),
    changeFailure,
    changeClaim: opt('changeClaim'),
  };
}

/** Follow-up fields as columns ('' clears one); undefined fields are left as they are. */
export function followUpColumns(fields: FollowUpFields): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    out[k] = k === 'changeFailure' ? (v ? JSON.stringify(v) : '') : (v as string | number);
  }
  return out;
}
