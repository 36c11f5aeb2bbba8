/**
 * Read receipts, as pure decisions. Teams sends `application/vnd.microsoft.readReceipt` events in 1:1
 * chats with `value.lastReadMessageId`: every message with an ID at or below it has been read. In Teams
 * 1:1 chats message IDs are numeric strings (epoch milliseconds), and Microsoft's own helper
 * (ReadReceiptInfo.IsMessageRead in the Teams SDKs) compares them as numbers, so they are compared as
 * numbers here; an ID that is not numeric can only match itself.
 * https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/conversation-messages#receive-a-read-receipt
 * https://learn.microsoft.com/dotnet/api/microsoft.bot.schema.teams.readreceiptinfo
 */

export const READ_RECEIPT_EVENT = 'application/vnd.microsoft.readReceipt';
const DIGITS = 20; // 2^64 has 20 digits: any numeric ID Teams hands out fits.

const numeric = (id: string) => /^\d{1,20}$/.test(id);

/**
 * A sortable key for an activity ID inside one chat: numeric IDs as `n` + zero-padded digits (so
 * string order is number order), others as `s` + the ID (never "at or below" anything else).
 */
export function activityOrderKey(id: string): string {
  return numeric(id) ? `n${id.replace(/^0+(?=\d)/, '').padStart(DIGITS, '0')}` : `s${id}`;
}

/** Whether a message is covered by a watermark: numerically at or below it, or the very same ID. */
export function isReadBy(activityId: string, lastReadMessageId: string): boolean {
  if (numeric(activityId) && numeric(lastReadMessageId)) {
    return BigInt(activityId) <= BigInt(lastReadMessageId);
  }
  return activityId === lastReadMessageId;
}

/**
 * The key range a new watermark covers: above the chat's previous watermark (already handled),
 * up to and including the new one. Undefined when there is nothing new to read.
 */
export function readRange(
  lastReadMessageId: string,
  previous: string | undefined,
): { after?: string; upTo: string } | undefined {
  const upTo = activityOrderKey(lastReadMessageId);
  if (!numeric(lastReadMessageId)) return { upTo }; // exact match only
  if (previous && numeric(previous) && BigInt(previous) >= BigInt(lastReadMessageId)) return undefined;
  return previous && numeric(previous) ? { after: activityOrderKey(previous), upTo } : { upTo };
}

/** The value of a read receipt event, or undefined when it is not one. */
export function lastReadMessageIdOf(activity: {
  type?: string;
  name?: string;
  value?: unknown;
}): string | undefined {
  if (activity.type !== 'event' || activity.name !== READ_RECEIPT_EVENT) return undefined;
  const id = (activity.value as { lastReadMessageId?: unknown } | undefined)?.lastReadMessageId;
  return typeof id === 'string' && id.trim() ? id.trim() : undefined;
}
