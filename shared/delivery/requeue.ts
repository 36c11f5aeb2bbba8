import type { QueueSender } from '../queues.js';
import type { DeliveryBatch } from './batch.js';
import type { DeliveryTask } from './task.js';

/**
 * The one way a delivery goes back on the deliveries queue: a new message after `delayMs`, so waiting
 * on Teams never uses up a message's dequeue count. Waiting for `notBefore` is not a reschedule.
 */
export async function requeueDelivery(
  queue: QueueSender,
  task: DeliveryTask,
  delayMs: number,
  reason: string,
): Promise<void> {
  await queue.send({ ...task, reschedules: task.reschedules + (reason === 'NotBefore' ? 0 : 1) }, delayMs);
}

/** A batch's last `count` recipients, not started yet, as a new message due now (batchTurn.ts). */
export async function requeueBatchRest(
  queue: QueueSender,
  batch: DeliveryBatch,
  count: number,
): Promise<void> {
  await queue.send({ ...batch, recipients: batch.recipients.slice(-count) });
}
