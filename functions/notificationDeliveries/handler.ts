import type { InvocationContext } from '@azure/functions';
import { services } from '../../shared/container.js';
import { isDeliveryBatch, tasksOf, type DeliveryBatch } from '../../shared/delivery/batch.js';
import { timeLeft, type Deadline } from '../../shared/delivery/deadline.js';
import { claimTokenOf } from '../../shared/delivery/policy.js';
import { requeueBatchRest, requeueDelivery, requeueFailed } from '../../shared/delivery/requeue.js';
import {
  attemptNumber,
  laneOfTask,
  type DeliveryTask,
  type DeliveryTimings,
} from '../../shared/delivery/task.js';
import { decodeJobText } from '../../shared/jobs/decode.js';
import { withConsumerSpan } from '../../shared/telemetry/traceContext.js';
import { reportQueueAge } from '../../shared/triggers/queueTelemetry.js';
import { isChangeTask } from '../../shared/followUps/changeTask.js';
import { handleChangeTask } from './changeTask.js';
import { handleWorkTask } from './workTasks.js';
import { deliverInTurn } from './batchTurn.js';
import { completionCheck, type CallbackFlag } from './completion.js';
import { plural } from '../../shared/text.js';

/** The next recipient of a batch starts only with this much of the deadline left. */
const MIN_TURN_MS = 3000;

/** A delivery the host is to try again; `last`: its failure is recorded, the message is for the poison queue. */
class RetryDelivery extends Error {
  constructor(
    message: string,
    readonly last: boolean,
  ) {
    super(message);
  }
}

/** What every delivery of one invocation shares. */
interface Invocation {
  /** The lane's queue the message came from. */
  queue: string;
  context: InvocationContext;
  claimToken: string;
  dequeueCount: number;
  deadline: Deadline;
  inBatch: boolean;
}

/** The deliveries function of one lane's queue (shared/queues.ts LANE_QUEUES). */
export const deliveryHandlerFor =
  (queue: string) =>
  (item: unknown, context: InvocationContext): Promise<void> =>
    handleDeliveryMessage(queue, item, context);

async function handleDeliveryMessage(
  queue: string,
  item: unknown,
  context: InvocationContext,
): Promise<void> {
  const startedAt = Date.now();
  const meta = context.triggerMetadata ?? {};
  const raw = typeof meta.queueTrigger === 'string' ? meta.queueTrigger : item;
  const decoded = typeof raw === 'string' ? decodeJobText(raw) : undefined;
  const value = decoded?.ok ? decoded.value : item;
  const { deliveryQueue, laneQueues, lanePoisonQueues, queueHost, changes, deadlineOf } = services();
  const dequeueCount = Number(meta.dequeueCount ?? 1);
  const invocation = {
    queue,
    context,
    dequeueCount,
    // Names the queue message, this delivery of it and this invocation (see existingDeliveryAction).
    claimToken: claimTokenOf(String(meta.id ?? context.invocationId), dequeueCount, context.invocationId),
    deadline: deadlineOf(startedAt),
  };
  if (isChangeTask(value)) return handleChangeTask(value, invocation, changes, deliveryQueue, queueHost);
  if (await handleWorkTask(value, context, invocation.deadline)) return;
  const tasks = isDeliveryBatch(value) ? tasksOf(value) : [value as DeliveryTask];
  if (!tasks.every(isDeliveryTask)) {
    // Only the job function writes this queue; anything else is not ours to retry.
    context.error('deliveries: message is not a delivery task; dropped to the poison queue');
    throw new Error('not a delivery task');
  }
  const inBatch = tasks.length > 1;
  const turn = await deliverInTurn(tasks, (task) => deliverOne(task, { ...invocation, inBatch }), {
    mayStart: () => timeLeft(invocation.deadline) > MIN_TURN_MS,
  });
  const jobId = tasks[0]!.jobId;
  // Whatever goes back goes to the lane it came in (tasks from before lanes: the normal one).
  const lane = laneOfTask(tasks[0]!);
  if (turn.rest.length > 0) {
    await requeueBatchRest(laneQueues[lane], value as DeliveryBatch, turn.rest.length);
    context.log(
      `job ${jobId}: ${turn.rest.length} of a batch's ${plural(tasks.length, 'delivery', 'deliveries')} handed back to the queue ` +
        `(${turn.failed ? 'after a failure' : 'the invocation deadline is near'})`,
    );
  }
  const failed = turn.failed;
  if (!failed) return;
  const last = failed.error instanceof RetryDelivery && failed.error.last;
  if (!inBatch && (!last || dequeueCount >= queueHost.maxDequeueCount)) {
    // Its own message: the host retries it, or moves it to the poison queue after the last attempt.
    throw failed.error;
  }
  if (last) {
    // The last attempt, counting those before this message: the failure is recorded; the message
    // goes to the poison queue as the host would move it (the poison function reports it).
    await lanePoisonQueues[lane].send(failed.item);
    context.warn(`job ${jobId}: a delivery failed on its last attempt; moved to the poison queue`);
    return;
  }
  // A batch's failing recipient goes back alone, after the host's retry delay, with its attempt counted.
  await requeueFailed(
    laneQueues[lane],
    failed.item,
    attemptNumber(failed.item, invocation),
    queueHost.visibilityTimeoutMs,
  );
  context.log(`job ${jobId}: a delivery failed (${String(failed.error)}); handed back to the queue alone`);
}

const isDeliveryTask = (task: DeliveryTask | undefined) =>
  !!task && typeof task === 'object' && task.v === 1 && !!task.jobId && !!task.recipient && !!task.tenantId;

/** One recipient's attempt; throws when the host is to retry it. */
async function deliverOne(task: DeliveryTask, inv: Invocation): Promise<void> {
  const { context } = inv;
  const meta = context.triggerMetadata ?? {};
  const { delivery, laneQueues, queueHost } = services();
  // One span per delivery attempt, in the trace the job was enqueued with.
  return withConsumerSpan(
    'Deliver notification',
    task.traceparent,
    {
      'messaging.destination.name': inv.queue,
      jobId: task.jobId,
      tenantId: task.tenantId,
      dequeueCount: inv.dequeueCount,
      reschedules: task.reschedules,
    },
    async (span) => {
      reportQueueAge(inv.queue, meta, task.tenantId);
      // Retried by the host; after the last attempt the poison-queue function records it (notificationDeliveriesPoison).
      const timings = { claimMs: 0, waitMs: 0, callMs: 0 };
      const started = performance.now();
      const result = await delivery.deliver(task, {
        claimToken: inv.claimToken,
        dequeueCount: inv.dequeueCount,
        maxDequeueCount: queueHost.maxDequeueCount,
        timings,
        deadline: inv.deadline,
        inBatch: inv.inBatch,
      });
      const took = describeTimings(timings, performance.now() - started);
      span.setAttributes({
        outcome: result.kind === 'done' ? result.status : result.kind,
        reason: result.reason ?? '',
      });
      switch (result.kind) {
        case 'done':
          context.log(
            `job ${task.jobId}: delivery ${result.status}${result.reason ? ` (${result.reason})` : ''}${result.duplicate ? ', already recorded' : ''}; ${took}`,
          );
          // Where a job's totals become final (shared/callbacks/completion.ts): an already recorded
          // outcome checks too, since the attempt that recorded it may have stopped before checking.
          if ((task as CallbackFlag).callback) await completionCheck(task, context);
          return;
        case 'reschedule':
          await requeueDelivery(laneQueues[laneOfTask(task)], task, result.delayMs, result.reason);
          context.log(
            `job ${task.jobId}: delivery rescheduled in ${result.delayMs} ms (${result.reason}); ${took}`,
          );
          return;
        case 'retry':
          // The last attempt recorded its failure: an outcome like any other for the job's totals.
          if (result.last && (task as CallbackFlag).callback) await completionCheck(task, context);
          throw new RetryDelivery(`delivery will be retried: ${result.reason}; ${took}`, !!result.last);
      }
    },
  );
}

/** Where an attempt's time went: the claim, waits for the rate limits, Teams, and the rest (mostly storage). */
function describeTimings(t: DeliveryTimings, totalMs: number): string {
  const other = totalMs - t.claimMs - t.waitMs - t.callMs;
  const ms = (x: number) => Math.round(x);
  return `${ms(totalMs)} ms: claim ${ms(t.claimMs)}, rate-limit wait ${ms(t.waitMs)}, Teams ${ms(t.callMs)}, other ${ms(other)}`;
}
