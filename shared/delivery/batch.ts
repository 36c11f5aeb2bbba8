import { deliveredMessage, MAX_QUEUE_MESSAGE_BYTES, type NotificationJob } from '../jobs/contract.js';
import { currentTraceparent } from '../telemetry/traceContext.js';
import { encodeMessage } from '../queues.js';
import type { UserRecord } from '../stores/conversations.js';
import type { DeliveryTask } from './task.js';
import { laneOf } from '../jobs/priority.js';

/**
 * How a job's deliveries go on the deliveries queue: what every task carries (`taskOf`), and up to
 * 16 recipients to a message. Storage charges (and an emulator spends) per message, not per byte, so
 * a 50,000-person job is about 3,100 messages instead of 50,000, and a queue read of 32 messages
 * brings up to 512 deliveries. The deliveries function delivers each recipient as its own task in
 * turn (its own claim, record and outcome), so exactly-once stays per recipient: a batch delivered
 * again after a crash or a failure of one of its recipients finds the others done by their records.
 */

export const BATCH_RECIPIENTS = 16;

export interface BatchRecipient {
  recipient: string;
  /** The recipient's record as the expansion read it (see DeliveryTask.user). */
  user?: UserRecord | undefined;
}

export interface DeliveryBatch {
  v: 1;
  kind: 'batch';
  /** What every task of the batch shares (job, message, times, trace). */
  task: Omit<DeliveryTask, 'recipient' | 'user'>;
  recipients: BatchRecipient[];
}

export function isDeliveryBatch(value: unknown): value is DeliveryBatch {
  const b = value as Partial<DeliveryBatch> | undefined;
  return (
    !!b &&
    typeof b === 'object' &&
    b.v === 1 &&
    b.kind === 'batch' &&
    !!b.task &&
    typeof b.task.jobId === 'string' &&
    typeof b.task.tenantId === 'string' &&
    Array.isArray(b.recipients) &&
    b.recipients.every((r) => typeof r?.recipient === 'string')
  );
}

/** One task per recipient, as if each had come on its own message. */
export const tasksOf = (batch: DeliveryBatch): DeliveryTask[] =>
  batch.recipients.map((r) => ({
    ...batch.task,
    recipient: r.recipient,
    ...(r.user ? { user: r.user } : {}),
  }));

/** `list` in consecutive pieces of at most `size`. */
export function chunksOf<T>(list: T[], size = BATCH_RECIPIENTS): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** Batches of at most `size` recipients, halved again while one would not fit a queue message. */
export function batchesOf(
  task: DeliveryBatch['task'],
  recipients: BatchRecipient[],
  size = BATCH_RECIPIENTS,
): DeliveryBatch[] {
  const out: DeliveryBatch[] = [];
  const pack = (list: BatchRecipient[]) => {
    const batch: DeliveryBatch = { v: 1, kind: 'batch', task, recipients: list };
    if (list.length > 1 && encodeMessage(batch).length > MAX_QUEUE_MESSAGE_BYTES) {
      const half = Math.ceil(list.length / 2);
      pack(list.slice(0, half));
      pack(list.slice(half));
    } else out.push(batch);
  };
  for (const chunk of chunksOf(recipients, size)) pack(chunk);
  return out;
}

/** What every delivery task of a job carries besides its recipient. */
export function taskOf(job: NotificationJob, acceptedAt: string): Omit<DeliveryTask, 'recipient'> {
  return {
    v: 1,
    jobId: job.id,
    tenantId: job.tenantId,
    message: deliveredMessage(job),
    acceptedAt,
    notBefore: job.notBefore,
    expiresAt: job.expiresAt,
    reschedules: 0,
    lane: laneOf(job),
    // The intake span's context when there is one, so each delivery is its child.
    traceparent: currentTraceparent() ?? job.traceparent,
  };
}

/**
 * The longest a queue message can stay hidden: Azure Queue Storage's visibility timeout is at most
 * 7 days ("Put Message", learn.microsoft.com/rest/api/storageservices/put-message).
 */
export const MAX_QUEUE_DELAY_MS = 7 * 24 * 3600 * 1000;

export const delayOf = (job: Pick<NotificationJob, 'notBefore'>) =>
  job.notBefore ? Math.max(0, Date.parse(job.notBefore) - Date.now()) : 0;
