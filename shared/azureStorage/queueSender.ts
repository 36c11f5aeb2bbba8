import type { QueueClient } from '@azure/storage-queue';
import { encodeMessage, type QueueSender } from '../queues.js';

/**
 * Azure Queue Storage caps a message's visibility timeout at 7 days, and by default a message
 * expires 7 days after it is put, seen or not: "Put Message"
 * (learn.microsoft.com/rest/api/storageservices/put-message): `visibilitytimeout` "cannot be larger
 * than 7 days"; `messagettl` "-1 indicating that the message does not expire" (version 2017-07-29
 * and later). Every message this app puts never expires: a job or a delivery is never lost unseen,
 * and a job's own `expiresAt` decides when it is too late. What is due later than 7 days is carried
 * in hops (jobs/intake.ts).
 */
const MAX_VISIBILITY_SECONDS = 7 * 24 * 3600;
const NEVER_EXPIRES = -1;

/** The Azure adapter: creates the queue on first use. */
export class StorageQueueSender implements QueueSender {
  private ready: Promise<unknown> | undefined;

  constructor(private readonly client: QueueClient) {}

  async send(message: unknown, delayMs = 0): Promise<void> {
    this.ready ??= this.client.createIfNotExists().catch((err: unknown) => {
      // A producer with only Storage Queue Data Message Sender may not create queues; the infra
      // made them, so send anyway (a missing queue then fails the send with QueueNotFound).
      if ((err as { statusCode?: unknown } | null)?.statusCode === 403) return;
      this.ready = undefined;
      throw err;
    });
    await this.ready;
    const visibilityTimeout = Math.min(MAX_VISIBILITY_SECONDS, Math.ceil(delayMs / 1000));
    await this.client.sendMessage(encodeMessage(message), {
      messageTimeToLive: NEVER_EXPIRES,
      ...(visibilityTimeout > 0 ? { visibilityTimeout } : {}),
    });
  }
}
