import type { InvocationContext } from '@azure/functions';
import type { Deadline } from '../../shared/delivery/deadline.js';
import type { ChangeService } from '../../shared/followUps/changeService.js';
import type { ChangeTask } from '../../shared/followUps/changeTask.js';

import type { QueueSender } from '../../shared/queues.js';
import type { DeliveryResult } from '../../shared/delivery/task.js';
import { completionCheck } from './completion.js';

/** An update or recall of one recipient's copy (shared/followUps/), from the deliveries queue. */
export async function handleChangeTask(
  task: ChangeTask,
  invocation: { context: InvocationContext; claimToken: string; dequeueCount: number; deadline: Deadline },
  changes: ChangeService,
  queue: QueueSender,
  queueHost: { maxDequeueCount: number },
): Promise<void> {
  const { context } = invocation;
  const result = await changes.apply(task, {
    claimToken: invocation.claimToken,
    dequeueCount: invocation.dequeueCount,
    maxDequeueCount: queueHost.maxDequeueCount,
    deadline: invocation.deadline,
  });
  const what = `job ${task.jobId}: ${task.op} (revision ${task.revision})`;
  switch (result.kind) {
    case 'done':
      context.log(`${what}: ${changeOutcome(task.op, result)}`);
      // A recall's cancellations can be what completes a job.
      if (task.op === 'recall') await completionCheck(task, context);
      return;
    case 'reschedule':
      // A new message, so waiting on Teams or on a send in flight never uses up the dequeue count.
      await queue.send({ ...task, reschedules: task.reschedules + 1 }, result.delayMs);
      context.log(`${what}: rescheduled in ${result.delayMs} ms (${result.reason})`);
      return;
    case 'retry':
      throw new Error(`change will be retried: ${result.reason}`);
  }
}

/**
 * What became of one copy, in words that never call a failed change "sent": the change service
 * answers a failed update or recall with the copy's status (still `sent`) and the failure's reason.
 */
export function changeOutcome(
  op: 'update' | 'recall',
  result: Extract<DeliveryResult, { kind: 'done' }>,
): string {
  const reason = result.reason ? ` (${result.reason})` : '';
  if (result.duplicate) return `nothing to do${reason}`;
  if (result.status === 'recalled') return 'recalled';
  if (result.status === 'cancelled') return `cancelled before it was sent${reason}`;
  if (result.status === 'sent' && op === 'update' && result.reason?.startsWith('updated to revision'))
    return result.reason;
  return `${op} failed${reason}`;
}
