import type { DeliveryRecord, FollowUpFields } from './deliveryRecords.js';

/**
 * The follow-up store port: what happens to a delivery after the send (updates, recalls, reads,
 * acknowledgements), written to the same delivery record, every write guarded by its version; and
 * reads of the index of sent messages by chat and activity ID (written with each `sent` outcome by the
 * delivery record store), so a read receipt or a card press finds its deliveries with key reads. Table adapter: azureStorage/tableFollowUpStore.ts.
 */

export interface SentMessageRef {
  jobId: string;
  recipient: string;
  activityId: string;
}

export interface FollowUpStore {
  /** Writes follow-up fields (and optionally a final status) if the record is unchanged since read. */
  write(
    tenantId: string,
    record: DeliveryRecord,
    fields: FollowUpFields & { status?: 'recalled' },
  ): Promise<DeliveryRecord | undefined>;
  /** The sent message with this activity ID in this chat (one point read). */
  findSent(tenantId: string, conversationId: string, activityId: string): Promise<SentMessageRef | undefined>;
  /**
   * Sent messages in a chat newly covered by a read receipt watermark: a range read of the chat's
   * index rows above its previous watermark, up to and including this one.
   */
  listNewlyRead(
    tenantId: string,
    conversationId: string,
    lastReadMessageId: string,
  ): Promise<SentMessageRef[]>;
  /** Moves the chat's watermark up (never down), once the reads it covers are recorded. */
  setReadMark(tenantId: string, conversationId: string, lastReadMessageId: string): Promise<void>;
}
