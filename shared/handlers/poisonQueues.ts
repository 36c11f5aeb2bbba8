import type { InvocationContext } from '@azure/functions';
import { services } from '../container.js';
import type { DeliveryTask } from '../delivery/deliver.js';
import { decodeJobText } from '../jobs/decode.js';
import { checkJob } from '../jobs/intake.js';
import { DELIVERIES_QUEUE, JOBS_QUEUE, poisonQueueOf } from '../queue/queues.js';
import { TERMINAL } from '../store/deliveryStore.js';
import { EventNames, telemetry } from '../telemetry/telemetry.js';

/**
 * Triggers on the two poison queues. Whatever lands there (a job the host could not decode, a job or
 * delivery that failed every attempt, something another system wrote) becomes a record someone can
 * see — a RejectedJobs row or failed delivery records — and one MessagePoisoned event, which the
 * poison alert (docs/alerts/alerts.json) counts. The message is then removed: the record holds it.
 */

function rawText(item: unknown, context: InvocationContext): string {
  const meta = context.triggerMetadata ?? {};
  if (typeof meta.queueTrigger === 'string') return meta.queueTrigger;
  return typeof item === 'string' ? item : JSON.stringify(item);
}

function poisoned(queue: string, reason: string, jobId?: string, tenantId?: string): void {
  telemetry().event(EventNames.messagePoisoned, {
    queue,
    poisonQueue: poisonQueueOf(queue),
    jobId,
    tenantId,
    reason,
  });
}

export async function handlePoisonedJob(item: unknown, context: InvocationContext): Promise<void> {
  const raw = rawText(item, context);
  const meta = context.triggerMetadata ?? {};
  const source = poisonQueueOf(JOBS_QUEUE);
  const { intake, config, queueHost } = services();
  const decoded = decodeJobText(raw);
  let reason: string;
  let errors: string[];
  let jobId: string | undefined;
  if (!decoded.ok) {
    // With messageEncoding "base64" the host moves text it cannot decode here without running the job function.
    reason = 'InvalidJson';
    errors = decoded.errors;
  } else {
    const checked = await checkJob(decoded.value, config);
    jobId = checked.ok ? checked.job.id : checked.jobId;
    if (!checked.ok) {
      reason = checked.reason;
      errors = checked.errors;
    } else {
      reason = 'Poisoned';
      errors = [
        `processing failed on every attempt (maxDequeueCount ${queueHost.maxDequeueCount}); see the function's logs for the errors, then resend the job`,
      ];
    }
  }
  await intake.setAside(reason, errors, {
    source,
    rawBody: decoded.text,
    queueMessageId: typeof meta.id === 'string' ? meta.id : undefined,
    jobId,
  });
  poisoned(JOBS_QUEUE, reason, jobId);
  context.warn(`${source}: job ${jobId ?? '(no id)'} recorded in RejectedJobs (${reason})`);
}

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

export async function handlePoisonedDelivery(item: unknown, context: InvocationContext): Promise<void> {
  const raw = rawText(item, context);
  const meta = context.triggerMetadata ?? {};
  const { intake, deliveryRecords, queueHost } = services();
  const decoded = decodeJobText(raw);
  const task = decoded.ok ? asTask(decoded.value) : undefined;
  if (!task) {
    // Only the job function writes the deliveries queue: this came from elsewhere.
    await intake.setAside('NotADeliveryTask', decoded.ok ? ['not a delivery task'] : decoded.errors, {
      source: poisonQueueOf(DELIVERIES_QUEUE),
      rawBody: decoded.text,
      queueMessageId: typeof meta.id === 'string' ? meta.id : undefined,
    });
    poisoned(DELIVERIES_QUEUE, 'NotADeliveryTask');
    context.warn(`${poisonQueueOf(DELIVERIES_QUEUE)}: not a delivery task; recorded in RejectedJobs`);
    return;
  }
  const current = await deliveryRecords.get(task.tenantId, task.jobId, task.recipient);
  let reason = current?.reason ?? 'Poisoned';
  if (!current || !TERMINAL.has(current.status)) {
    // The last attempt could not record an outcome (a storage outage, a crash): the job's status says so.
    const detail = `delivery failed on every attempt (maxDequeueCount ${queueHost.maxDequeueCount})${current?.reason ? `; last error ${current.reason}` : ''}`;
    reason = 'Poisoned';
    await deliveryRecords.recordWithoutClaim(task.tenantId, task.jobId, task.recipient, {
      status: 'failed',
      reason,
      detail,
    });
    telemetry().event(EventNames.deliveryFailed, {
      jobId: task.jobId,
      tenantId: task.tenantId,
      reason,
      recipient: telemetry().userRef(task.recipient),
    });
  }
  poisoned(DELIVERIES_QUEUE, reason, task.jobId, task.tenantId);
  context.warn(
    `${poisonQueueOf(DELIVERIES_QUEUE)}: job ${task.jobId}: delivery recorded as failed (${reason})`,
  );
}
