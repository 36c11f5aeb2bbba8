import type { InvocationContext } from '@azure/functions';
import { isCallbackTask } from '../../shared/callbacks/callbackService.js';
import { services } from '../../shared/container.js';
import { decodeJobText } from '../../shared/jobs/decode.js';
import { queueMessageText } from '../../shared/triggers/queueTelemetry.js';

/** One callback attempt; a later one goes back on the queue with its wait (shared/callbacks/). */
export async function handleCallbackMessage(item: unknown, context: InvocationContext): Promise<void> {
  const decoded = decodeJobText(queueMessageText(item, context));
  const task = decoded.ok ? decoded.value : undefined;
  if (!isCallbackTask(task)) {
    // Only the app writes this queue: anything else goes to the poison queue, where it stays visible.
    throw new Error('notification-callbacks: not a callback task');
  }
  const outcome = await services().callbacks.attempt(task);
  context.log(`job ${task.jobId}: ${task.event} callback, attempt ${task.attempt}: ${outcome}`);
}
