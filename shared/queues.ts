/** Queue names are part of the contract: producers write jobs to JOBS_QUEUE. */
export const JOBS_QUEUE = 'notification-jobs';
/** Internal: one message per recipient, written by the job function. */
export const DELIVERIES_QUEUE = 'notification-deliveries';
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
