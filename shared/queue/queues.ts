import type { QueueClient } from '@azure/storage-queue';

/** Queue names are part of the contract: producers write jobs to JOBS_QUEUE. */
export const JOBS_QUEUE = 'notification-jobs';
/** Internal: one message per recipient, written by the job function. */
export const DELIVERIES_QUEUE = 'notification-deliveries';
export const poisonQueueOf = (queue: string) => `${queue}-poison`;

/** Azure Storage caps visibility timeouts at seven days. */
const MAX_VISIBILITY_SECONDS = 7 * 24 * 3600;

export interface QueueSender {
  /** Sends a JSON message, base64-encoded as the Functions host expects by default. */
  send(message: unknown, delayMs?: number): Promise<void>;
}

export function encodeMessage(message: unknown): string {
  return Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
}

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
