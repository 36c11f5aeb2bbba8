import { queueClient } from '../azureStorage/connection.js';
import { StorageQueueSender } from '../azureStorage/queueSender.js';
import { readStorageSettings, type StorageSettings } from '../config.js';
import { JOBS_QUEUE, type QueueSender } from '../queues.js';
import { parseAndCheckCard } from './card.js';
import type { NotificationJobInput } from './contract.js';
import { enqueueJob } from './enqueue.js';

/**
 * The typed client other TypeScript systems use to enqueue a notification job:
 *
 *   const { jobId, tenantId } = await enqueueNotification({ tenantId, recipients: [{ upn }], message: { text } });
 *
 * It validates against the v1 contract before anything is sent, so a bad job fails in the caller.
 */

export class JobValidationError extends Error {
  override name = 'JobValidationError';
  constructor(
    readonly reason: string,
    readonly errors: string[],
  ) {
    super(`Invalid notification job (${reason}): ${errors.join('; ')}`);
  }
}

export interface EnqueueOptions {
  /** A connection string, or identity-based settings; defaults to the AzureWebJobsStorage settings. */
  connection?: string | StorageSettings;
  queueName?: string;
  /** Advanced: an already built sender (tests, or a shared client). */
  sender?: QueueSender;
}

const senders = new Map<string, QueueSender>();

function senderFor(options: EnqueueOptions): QueueSender {
  if (options.sender) return options.sender;
  const defaults = readStorageSettings();
  const settings =
    typeof options.connection === 'string'
      ? { connectionString: options.connection, azuriteHost: defaults.azuriteHost }
      : (options.connection ?? defaults);
  const queue = options.queueName ?? JOBS_QUEUE;
  const cacheKey = `${JSON.stringify(settings)}|${queue}`;
  let sender = senders.get(cacheKey);
  if (!sender) {
    sender = new StorageQueueSender(queueClient(settings, queue));
    senders.set(cacheKey, sender);
  }
  return sender;
}

/** `input` may also be job text (plain or base64 JSON, with or without a BOM), read as the queue reads it. */
export async function enqueueNotification(
  input: NotificationJobInput | string,
  options: EnqueueOptions = {},
): Promise<{ jobId: string; tenantId: string }> {
  const result = await parseAndCheckCard(input);
  if (!result.ok) throw new JobValidationError(result.reason, result.errors);
  const job = result.job;
  const sent = await enqueueJob(job, senderFor(options));
  if (!sent.ok) {
    throw new JobValidationError('JobTooLarge', [
      `the job is ${sent.bytes} bytes encoded; a queue message holds 64 KiB: split the recipients over several jobs`,
    ]);
  }
  // Jobs are scoped by tenant: status, update and recall name both.
  return { jobId: job.id, tenantId: job.tenantId };
}
