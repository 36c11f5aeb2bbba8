import type { Lane } from './delivery/lanes.js';

/** Queue names are part of the contract: producers write jobs to JOBS_QUEUE. */
export const JOBS_QUEUE = 'notification-jobs';
/**
 * Internal: a job's deliveries, up to 16 recipients to a message (delivery/batch.ts), one queue per
 * lane (delivery/lanes.ts), so an urgent or normal delivery never waits behind a broadcast's. The
 * normal lane keeps the queue's first name, which also carries work tasks (update and recall fan-outs,
 * roster reads).
 */
export const DELIVERIES_QUEUE = 'notification-deliveries';
export const URGENT_DELIVERIES_QUEUE = 'notification-deliveries-urgent';
export const BULK_DELIVERIES_QUEUE = 'notification-deliveries-bulk';
/** Each lane's deliveries queue. */
export const LANE_QUEUES: Record<Lane, string> = {
  urgent: URGENT_DELIVERIES_QUEUE,
  normal: DELIVERIES_QUEUE,
  bulk: BULK_DELIVERIES_QUEUE,
};
/** Internal: a job's CloudEvent for its callback, retried with back-off (shared/callbacks/). */
export const CALLBACKS_QUEUE = 'notification-callbacks';
export const poisonQueueOf = (queue: string) => `${queue}-poison`;

/** The port every enqueue goes through; azureStorage/queueSender.ts is the Storage Queue adapter. */
export interface QueueSender {
  /** Sends a JSON message, base64-encoded as the Functions host expects by default. */
  send(message: unknown, delayMs?: number): Promise<void>;
}

export function encodeMessage(message: unknown): string {
  return Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
}
