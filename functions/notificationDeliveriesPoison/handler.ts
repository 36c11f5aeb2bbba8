import type { InvocationContext } from '@azure/functions';
import { services } from '../../shared/container.js';
import { isDeliveryBatch, tasksOf } from '../../shared/delivery/batch.js';
import { refundHourlyCap } from '../../shared/delivery/hourlyCap.js';
import type { DeliveryTask } from '../../shared/delivery/task.js';
import { decodeJobText } from '../../shared/jobs/decode.js';
import { poisonQueueOf } from '../../shared/queues.js';
import { recordWithoutClaim, TERMINAL, type DeliveryRecord } from '../../shared/stores/deliveryRecords.js';
import { isChangeTask } from '../../shared/followUps/changeTask.js';
import { EventNames, telemetry } from '../../shared/telemetry/telemetry.js';
import { queueMessageText, reportPoisoned } from '../../shared/triggers/queueTelemetry.js';
import { completionCheck, type CallbackFlag } from '../notificationDeliveries/completion.js';
import { recordPoisonedWorkTask } from '../notificationDeliveries/workTasks.js';

/**
 * Whatever lands in the poison queues (a job the host could not decode, a job or delivery that failed
 * every attempt, something another system wrote) becomes a record someone can see, a RejectedJobs row
 * or failed delivery records, and one MessagePoisoned event, which the poison alert
 * (docs/alerts/alerts.json) counts. The message is then removed: the record holds it.
 */

function asTask(value: unknown): DeliveryTask | undefined {
  const task = value as Partial<DeliveryTask> | undefined;
  return task &&
    typeof task === 'object' &&
    task.v === 1 &&
    typeof task.jobId === 'string' &&
    typeof task.tenantId === 'string' &&
    typeof task.recipient === 'string'
    ? (task as DeliveryTask)
    : undefined;
}

/** The poison function of one lane's deliveries queue (`queue`: the lane's queue, not its poison queue). */
export const poisonHandlerFor =
  (queue: string) =>
  (item: unknown, context: InvocationContext): Promise<void> =>
    handlePoisonedDelivery(queue, item, context);

async function handlePoisonedDelivery(
  queue: string,
  item: unknown,
  context: InvocationContext,
): Promise<void> {
  const raw = queueMessageText(item, context);
  const meta = context.triggerMetadata ?? {};
  const { intake } = services();
  const decoded = decodeJobText(raw);
  const value = decoded.ok ? decoded.value : undefined;
  if (isDeliveryBatch(value)) {
    // A batch fails as a whole when one recipient keeps failing: the others' outcomes stand, and
    // those still unfinished are recorded here.
    let recorded = 0;
    for (const task of tasksOf(value)) if (await recordUnfinished(task, undefined, true)) recorded++;
    const { jobId, tenantId } = value.task;
    reportPoisoned(queue, 'Poisoned', jobId, tenantId);
    context.warn(
      `${poisonQueueOf(queue)}: job ${jobId}: a batch of ${value.recipients.length} failed on every attempt; ${recorded} unfinished recorded as failed (Poisoned)`,
    );
    // Outcomes like any other for a job that asked for a callback (completion.ts).
    if (recorded > 0 && (value.task as CallbackFlag).callback) await completionCheck(value.task, context);
    return;
  }
  if (await recordPoisonedWorkTask(value, context, queue)) return;
  const task = asTask(value);
  if (!task) {
    // Only the job function writes the deliveries queue: this came from elsewhere.
    await intake.setAside('NotADeliveryTask', decoded.ok ? ['not a delivery task'] : decoded.errors, {
      source: poisonQueueOf(queue),
      rawBody: decoded.text,
      queueMessageId: typeof meta.id === 'string' ? meta.id : undefined,
    });
    reportPoisoned(queue, 'NotADeliveryTask');
    context.warn(`${poisonQueueOf(queue)}: not a delivery task; recorded in RejectedJobs`);
    return;
  }
  await recordPoisoned(queue, task, context);
}

async function recordPoisoned(queue: string, task: DeliveryTask, context: InvocationContext): Promise<void> {
  const current = await services().deliveryRecords.get(task.tenantId, task.jobId, task.recipient);
  if (isChangeTask(task)) {
    // An update or recall that failed every attempt: the copy's record says so; the send stands as it was.
    if (current) {
      const at = new Date().toISOString();
      const failure = { op: task.op, revision: task.revision, reason: 'Poisoned', at };
      await services().followUps.write(task.tenantId, current, { changeClaim: '', changeFailure: failure });
    }
    reportPoisoned(queue, 'ChangePoisoned', task.jobId, task.tenantId);
    context.warn(`${poisonQueueOf(queue)}: job ${task.jobId}: ${task.op} failed on every attempt`);
    return;
  }
  const recorded = await recordUnfinished(task, current);
  const reason = recorded ? 'Poisoned' : (current?.reason ?? 'Poisoned');
  reportPoisoned(queue, reason, task.jobId, task.tenantId);
  context.warn(`${poisonQueueOf(queue)}: job ${task.jobId}: delivery recorded as failed (${reason})`);
  if (recorded && (task as CallbackFlag).callback) await completionCheck(task, context);
}

/**
 * A delivery whose last attempt could not record an outcome (a storage outage, a crash) is recorded
 * `failed` (`Poisoned`), so the job's status says so; true when it was. A batch's recipient that went
 * back to the queue as a message of its own (a reschedule in flight, a failing recipient handed back)
 * is not: that message owns it now and will end it.
 */
async function recordUnfinished(
  task: DeliveryTask,
  current?: DeliveryRecord | undefined,
  ofBatch = false,
): Promise<boolean> {
  const { deliveryRecords, queueHost, conversations } = services();
  current ??= await deliveryRecords.get(task.tenantId, task.jobId, task.recipient);
  if (current && TERMINAL.has(current.status)) return false;
  if (ofBatch && current?.status === 'pending' && current.requeued) return false;
  const detail = `delivery failed on every attempt (maxDequeueCount ${queueHost.maxDequeueCount})${current?.reason ? `; last error ${current.reason}` : ''}`;
  // An audience job's failure is counted with the record (its status reads the counters).
  await recordWithoutClaim(
    deliveryRecords,
    task.tenantId,
    task.jobId,
    task.recipient,
    { status: 'failed', reason: 'Poisoned', detail },
    { counted: task.counted },
  );
  await refundHourlyCap(conversations, task.tenantId, current);
  telemetry().event(EventNames.deliveryFailed, {
    jobId: task.jobId,
    tenantId: task.tenantId,
    reason: 'Poisoned',
    recipient: telemetry().userRef(task.recipient),
  });
  return true;
}
