import type { InvocationContext } from '@azure/functions';
import { services } from '../container.js';
import type { DeliveryTask } from '../delivery/deliver.js';

/** Queue trigger on notification-deliveries: deliver to one recipient. */
export async function handleDeliveryMessage(item: unknown, context: InvocationContext): Promise<void> {
  const meta = context.triggerMetadata ?? {};
  const task = item as DeliveryTask;
  if (!task || typeof task !== 'object' || task.v !== 1 || !task.jobId || !task.recipient || !task.tenantId) {
    // Only the job function writes this queue; anything else is not ours to retry.
    context.error('deliveries: message is not a delivery task; dropped to the poison queue');
    throw new Error('not a delivery task');
  }
  const { delivery, deliveriesQueue, queueHost } = services();
  const result = await delivery.deliver(task, {
    claimToken: String(meta.id ?? context.invocationId),
    dequeueCount: Number(meta.dequeueCount ?? 1),
    maxDequeueCount: queueHost.maxDequeueCount,
  });
  switch (result.kind) {
    case 'done':
      context.log(
        `job ${task.jobId}: delivery ${result.status}${result.reason ? ` (${result.reason})` : ''}${result.duplicate ? ', already recorded' : ''}`,
      );
      return;
    case 'reschedule':
      // A new message, so waiting on Teams never uses up this message's dequeue count.
      await deliveriesQueue.send(
        { ...task, reschedules: task.reschedules + (result.reason === 'NotBefore' ? 0 : 1) },
        result.delayMs,
      );
      context.log(`job ${task.jobId}: delivery rescheduled in ${result.delayMs} ms (${result.reason})`);
      return;
    case 'retry':
      throw new Error(`delivery will be retried: ${result.reason}`);
  }
}
