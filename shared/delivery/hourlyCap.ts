import type { ConversationStore } from '../stores/conversations.js';
import type { DeliveryRecord } from '../stores/deliveryRecords.js';

/**
 * The recipient hourly cap (RECIPIENT_HOURLY_CAP) counts notifications sent: a delivery is counted
 * once, by its first claim (the claim transaction checks and counts in one ETag-guarded write, so
 * concurrent deliveries cannot overshoot), and given back when it ends without a message: failed, or
 * cancelled by a recall. Best effort: a refund that cannot be written leaves the hour one too full.
 */
export async function refundHourlyCap(
  conversations: Pick<ConversationStore, 'updateUser'>,
  tenantId: string,
  record: Pick<DeliveryRecord, 'capHour' | 'userId'> | undefined,
): Promise<void> {
  const hour = record?.capHour;
  if (!hour || !record.userId) return;
  try {
    await conversations.updateUser(tenantId, record.userId, (user) =>
      user && user.capHour === hour && user.capCount > 0
        ? { ...user, capCount: user.capCount - 1, updatedAt: new Date().toISOString() }
        : undefined,
    );
  } catch {
    // Storage trouble: the count stays, which can only make the hour stricter.
  }
}
