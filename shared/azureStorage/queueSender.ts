import type { QueueClient } from '@azure/storage-queue';
import { encodeMessage, type QueueSender } from '../queues.js';

/** Azure Storage caps visibility timeouts at seven days. */
const MAX_VISIBILITY_SECONDS = 7 * 24 * 3600;

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
    await this.client.sendMessage(encodeMessage(message), visibilityTimeout > 0 ? { visibilityTimeout } : {});
  }
}
