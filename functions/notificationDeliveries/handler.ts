import type { InvocationContext } from '@azure/functions';
import { services } from '../../shared/container.js';
import { isDeliveryBatch, tasksOf, type DeliveryBatch } from '../../shared/delivery/batch.js';
import { requeueBatchRest, requeueDelivery } from '../../shared/delivery/requeue.js';
import type { DeliveryTask, DeliveryTimings } from '../../shared/delivery/task.js';
import { decodeJobText } from '../../shared/jobs/decode.js';
import { DELIVERIES_QUEUE } from '../../shared/queues.js';
import { withConsumerSpan } from '../../shared/telemetry/traceContext.js';
import { reportQueueAge } from '../../shared/triggers/queueTelemetry.js';
import { isChangeTask } from '../../shared/followUps/changeTask.js';
import { handleChangeTask } from './changeTask.js';
import { handleWorkTask } from './workTasks.js';
import { deliverInTurn } from './batchTurn.js';
import { completionCheck, type CallbackFlag } from './completion.js';
import { plural } from '../../shared/text.js';

const QUEUE = DELIVERIES_QUEUE;
/** How long a batch's deliveries may start one after another before the rest go back to the queue. */
const BATCH_TURN_MS = 60_000;

export async function handleDeliveryMessage(item: unknown, context: InvocationContext): Promise<void> {
  const meta = context.triggerMetadata ?? {};
  const raw = typeof meta.queueTrigger === 'string' ? meta.queueTrigger : item;
  const decoded = typeof raw === 'string' ? decodeJobText(raw) : undefined;
  const value = decoded?.ok ? decoded.value : item;
  const { deliveryQueue, queueHost, changes } = services();
  if (isChangeTask(value)) return handleChangeTask(value, context, changes, deliveryQueue, queueHost);
  if (await handleWorkTask(value, context)) return;
  const tasks = isDeliveryBatch(value) ? tasksOf(value) : [value as DeliveryTask];
  if (!tasks.every(isDeliveryTask)) {
    // Only the job function writes this queue; anything else is not ours to retry.
    context.error('deliveries: message is not a delivery task; dropped to the poison queue');
    throw new Error('not a delivery task');
  }
  // A batch's recipients in turn. One that fails has the host deliver the message again, where the
  // others are found done by their records.
  const { failure, handedBack } = await deliverInTurn(tasks, (task) => deliverOne(task, context), {
    turnMs: BATCH_TURN_MS,
    handBack: (rest) => requeueBatchRest(deliveryQueue, value as DeliveryBatch, rest.length),
  });
  if (handedBack) {
    context.log(
      `job ${tasks[0]!.jobId}: ${handedBack} of a batch's ${plural(tasks.length, 'delivery', 'deliveries')} handed back to the queue after ${BATCH_TURN_MS / 1000} s`,
    );
  }
  if (failure) throw failure;
}

const isDeliveryTask = (task: DeliveryTask | undefined) =>
  !!task && typeof task === 'object' && task.v === 1 && !!task.jobId && !!task.recipient && !!task.tenantId;

/** One recipient's attempt; throws when the host is to retry it. */
async function deliverOne(task: DeliveryTask, context: InvocationContext): Promise<void> {
  const meta = context.triggerMetadata ?? {};
  const { delivery, deliveryQueue, queueHost } = services();
  const dequeueCount = Number(meta.dequeueCount ?? 1);
  // One span per delivery attempt, in the trace the job was enqueued with.
  return withConsumerSpan(
    'Deliver notification',
    task.traceparent,
    {
      'messaging.destination.name': QUEUE,
      jobId: task.jobId,
      tenantId: task.tenantId,
      dequeueCount,
      reschedules: task.reschedules,
    },
    async (span) => {
      reportQueueAge(QUEUE, meta, task.tenantId);
      // Retried by the host; after the last attempt the poison-queue function records it (notificationDeliveriesPoison).
      const timings = { claimMs: 0, waitMs: 0, callMs: 0 };
      const started = performance.now();
      const result = await delivery.deliver(task, {
        claimToken: String(meta.id ?? context.invocationId),
        dequeueCount,
        maxDequeueCount: queueHost.maxDequeueCount,
        timings,
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
          await requeueDelivery(deliveryQueue, task, result.delayMs, result.reason);
          context.log(
            `job ${task.jobId}: delivery rescheduled in ${result.delayMs} ms (${result.reason}); ${took}`,
          );
          return;
        case 'retry':
          throw new Error(`delivery will be retried: ${result.reason}; ${took}`);
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
