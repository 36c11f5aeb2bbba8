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

/**
 * A batch's recipient that failed, back as a message of its own after `delayMs` (the host's
 * visibilityTimeout), carrying the attempts it had so the poison queue still comes after
 * maxDequeueCount of them (batchTurn.ts).
 */
export async function requeueFailed(
  queue: QueueSender,
  task: DeliveryTask,
  attempts: number,
  delayMs: number,
): Promise<void> {
  await queue.send({ ...task, attempts }, delayMs);
}

/** A batch's last `count` recipients, not started yet, as a new message due now (batchTurn.ts). */
export async function requeueBatchRest(
  queue: QueueSender,
  batch: DeliveryBatch,
  count: number,
): Promise<void> {
  await queue.send({ ...batch, recipients: batch.recipients.slice(-count) });
}
