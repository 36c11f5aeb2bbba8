import type { InvocationContext } from '@azure/functions';
import type { Deadline } from '../../shared/delivery/deadline.js';
import type { ChangeService } from '../../shared/followUps/changeService.js';
import type { ChangeTask } from '../../shared/followUps/changeTask.js';

import type { QueueSender } from '../../shared/queues.js';

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
      context.log(`${what}: ${result.status}${result.reason ? ` (${result.reason})` : ''}`);
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
