/**
 * Storage queue triggers with the host.json semantics of the Functions host's queue listener:
 * batches of `batchSize`, a new batch once in-flight messages drop to `newBatchThreshold`, polling
 * back-off up to `maxPollingInterval`, failed messages made visible again after
 * `visibilityTimeout`, and poison handling after `maxDequeueCount` attempts.
 */
import { randomUUID } from 'node:crypto';
import type { DequeuedMessageItem, QueueClient } from '@azure/storage-queue';
import type { QueueOptions } from './config.js';
import { MIN_POLLING_INTERVAL_MS } from './config.js';
import type { Logger } from './logger.js';
import { describeError } from './logger.js';

/** Messages are hidden this long while a handler runs (renewed at half-time), like the host. */
export const DEFAULT_LEASE_MS = 10 * 60_000;

/** Runs the function with a message; rejects when the invocation failed (or its worker was stopped). */
export type QueueInvoke = (
  input: unknown,
  triggerMetadata: Record<string, unknown>,
  invocationId: string,
  reason: string,
) => Promise<void>;

export interface QueueListenerOptions {
  name: string;
  queueName: string;
  queue: QueueClient;
  poisonQueue: QueueClient;
  options: QueueOptions;
  invoke: QueueInvoke;
  logger: Logger;
  leaseMs?: number;
}

/**
 * What the Storage extension (5.x) hands a function for `messageEncoding: "base64"`: the SDK decodes
 * with .NET's Convert.FromBase64String (strict alphabet and padding, whitespace ignored) and the
 * binding turns the bytes into a string with Encoding.UTF8.GetString, which keeps a byte order mark
 * and replaces invalid UTF-8 with U+FFFD. undefined when `text` is not base64: the extension then
 * moves the message, as received, straight to the poison queue without invoking the function.
 */
export function decodeBase64(text: string): string | undefined {
  const compact = text.replace(/[ \t\r\n]/g, '');
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return undefined;
  return new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(Buffer.from(compact, 'base64'));
}

/**
 * The host hands JSON objects/arrays to Node.js functions parsed, everything else as a string. Only
 * JSON's own whitespace is skipped: a leading BOM makes the text a string, as JSON.parse in the worker
 * refuses it too.
 */
export function toTriggerInput(body: string): unknown {
  const trimmed = body.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
  const looksJson =
    (trimmed.startsWith('{') && trimmed.endsWith('}')) || (trimmed.startsWith('[') && trimmed.endsWith(']'));
  if (!looksJson) return body;
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    return body;
  }
}

/** stop(): how long a pending storage call of the polling loop may take before it is aborted. */
const STOP_ABORT_MS = 5000;

const sleepFor = (ms: number): number => Math.min(ms, 2 ** 31 - 1);

export class QueueListener {
  readonly #o: QueueListenerOptions;
  readonly #leaseMs: number;
  readonly #inFlight = new Set<Promise<void>>();
  #loop: Promise<void> | undefined;
  #stopping = false;
  /** Wakes the polling loop early (stop, or capacity freed). */
  #wake: (() => void) | undefined;
  #poisonReady: Promise<unknown> | undefined;
  readonly #abort = new AbortController();

  constructor(options: QueueListenerOptions) {
    this.#o = options;
    this.#leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  }

  get name(): string {
    return this.#o.name;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /**
   * Stops polling and waits up to `timeoutMs` for in-flight invocations. Resolves with the number of
   * invocations still running (their messages become visible again when their lease expires).
   */
  async stop(timeoutMs: number): Promise<number> {
    this.#stopping = true;
    this.#wake?.();
    // A receive still running is normally quick; abort it only if storage hangs.
    const abortTimer = setTimeout(() => this.#abort.abort(), STOP_ABORT_MS);
    await this.#loop;
    clearTimeout(abortTimer);
    if (this.#inFlight.size === 0) return 0;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([Promise.allSettled([...this.#inFlight]), timedOut]);
    clearTimeout(timer);
    return this.#inFlight.size;
  }

  #log(level: 'information' | 'warning' | 'error', message: string, invocationId?: string): void {
    this.#o.logger.log(level, message, { functionName: this.name, invocationId });
  }

  /** Sleeps `ms`, or less when woken. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, sleepFor(ms));
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  async #run(): Promise<void> {
    const { queue, options } = this.#o;
    const leaseSeconds = Math.ceil(this.#leaseMs / 1000);
    let delay = MIN_POLLING_INTERVAL_MS;
    let created = false;
    // Storage errors: back off from 1 s to 1 min and log the same error at most once a minute.
    let errorDelay = 0;
    let lastError = { message: '', at: 0 };

    while (!this.#stopping) {
      if (this.#inFlight.size > options.newBatchThreshold) {
        await this.#pause(60_000);
        continue;
      }
      try {
        if (!created) {
          await queue.createIfNotExists({ abortSignal: this.#abort.signal });
          created = true;
        }
        const { receivedMessageItems: messages } = await queue.receiveMessages({
          numberOfMessages: options.batchSize,
          visibilityTimeout: leaseSeconds,
          abortSignal: this.#abort.signal,
        });
        if (errorDelay > 0) {
          this.#log('information', `Polling queue '${this.#o.queueName}' works again.`);
          errorDelay = 0;
          lastError = { message: '', at: 0 };
        }
        if (this.#stopping) {
          // Received while stopping: hand them back untouched.
          await Promise.allSettled(
            messages.map((m) => queue.updateMessage(m.messageId, m.popReceipt, undefined, 0)),
          );
          break;
        }
        if (messages.length === 0) {
          await this.#pause(delay);
          // Exponential back-off with a little jitter, capped at maxPollingInterval.
          delay = Math.min(options.maxPollingIntervalMs, Math.round(delay * (1.8 + Math.random() * 0.4)));
          continue;
        }
        delay = MIN_POLLING_INTERVAL_MS;
        for (const message of messages) this.#dispatch(message);
      } catch (err) {
        if (this.#stopping) break;
        const message = errorMessage(err);
        if (message !== lastError.message || Date.now() - lastError.at >= 60_000) {
          this.#log(
            'warning',
            `Polling queue '${this.#o.queueName}' failed (is the storage account / Azurite reachable?): ${message}`,
          );
          lastError = { message, at: Date.now() };
        }
        errorDelay = Math.min(60_000, Math.max(1000, errorDelay * 2));
        await this.#pause(errorDelay);
      }
    }
  }

  #dispatch(message: DequeuedMessageItem): void {
    const task = this.#process(message)
      .catch((err: unknown) => {
        this.#log('error', `Unexpected error handling message ${message.messageId}: ${describeError(err)}`);
      })
      .finally(() => {
        this.#inFlight.delete(task);
        if (this.#inFlight.size <= this.#o.options.newBatchThreshold) this.#wake?.();
      });
    this.#inFlight.add(task);
  }

  async #process(message: DequeuedMessageItem): Promise<void> {
    const { options, invoke, queue } = this.#o;
    const invocationId = randomUUID();
    let body: string | undefined = message.messageText;
    if (options.messageEncoding === 'base64') {
      body = decodeBase64(message.messageText);
      if (body === undefined) {
        this.#log(
          'warning',
          `Message ${message.messageId} is not valid base64 (host.json messageEncoding is "base64"); moving it to '${this.#o.queueName}-poison'.`,
          invocationId,
        );
        await this.#moveToPoison(message, message.popReceipt, invocationId);
        return;
      }
    }
    if (message.dequeueCount > options.maxDequeueCount) {
      // Its earlier attempts never completed (e.g. the host stopped mid-invocation).
      await this.#moveToPoison(message, message.popReceipt, invocationId);
      return;
    }

    const lease = this.#holdLease(message);
    const triggerMetadata = {
      id: message.messageId,
      dequeueCount: message.dequeueCount,
      insertionTime: message.insertedOn.toISOString(),
      expirationTime: message.expiresOn.toISOString(),
      nextVisibleTime: message.nextVisibleOn.toISOString(),
      popReceipt: message.popReceipt,
      queueTrigger: body,
    };
    let failed = false;
    try {
      await invoke(
        toTriggerInput(body),
        triggerMetadata,
        invocationId,
        `New queue message detected on '${this.#o.queueName}', id ${message.messageId}, dequeue count ${message.dequeueCount}`,
      );
    } catch {
      // Logged by the worker host. A function timeout (or a restart of its worker) is a failure too:
      // the message comes back after visibilityTimeout, as from the host's queue listener.
      failed = true;
    }
    const popReceipt = await lease.release();

    if (!failed) {
      await queue.deleteMessage(message.messageId, popReceipt).catch((err: unknown) => {
        this.#log(
          'error',
          `Could not delete message ${message.messageId}: ${errorMessage(err)}`,
          invocationId,
        );
      });
    } else if (message.dequeueCount >= options.maxDequeueCount) {
      await this.#moveToPoison(message, popReceipt, invocationId);
    } else {
      const seconds = Math.ceil(options.visibilityTimeoutMs / 1000);
      await queue.updateMessage(message.messageId, popReceipt, undefined, seconds).catch((err: unknown) => {
        this.#log(
          'error',
          `Could not release message ${message.messageId}: ${errorMessage(err)}`,
          invocationId,
        );
      });
    }
  }

  /** Keeps the message hidden while its handler runs; `release()` returns the current pop receipt. */
  #holdLease(message: DequeuedMessageItem): { release(): Promise<string> } {
    const { queue } = this.#o;
    let popReceipt = message.popReceipt;
    let renewing: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      renewing = renewing.then(async () => {
        try {
          const res = await queue.updateMessage(
            message.messageId,
            popReceipt,
            undefined,
            Math.ceil(this.#leaseMs / 1000),
          );
          if (res.popReceipt) popReceipt = res.popReceipt;
        } catch (err) {
          this.#log(
            'warning',
            `Could not extend the lease of message ${message.messageId}: ${errorMessage(err)}`,
          );
        }
      });
    }, this.#leaseMs / 2);
    timer.unref();
    return {
      release: async () => {
        clearInterval(timer);
        await renewing;
        return popReceipt;
      },
    };
  }

  async #moveToPoison(message: DequeuedMessageItem, popReceipt: string, invocationId: string): Promise<void> {
    const { poisonQueue, queue, options } = this.#o;
    const poisonName = poisonQueue.name;
    this.#log(
      'warning',
      `Message ${message.messageId} has reached MaxDequeueCount of ${options.maxDequeueCount} (dequeue count ${message.dequeueCount}); moving it to queue '${poisonName}'.`,
      invocationId,
    );
    try {
      this.#poisonReady ??= poisonQueue.createIfNotExists().catch((err: unknown) => {
        this.#poisonReady = undefined;
        throw err;
      });
      await this.#poisonReady;
      // Same text as received, so the poison message keeps the queue's encoding.
      await poisonQueue.sendMessage(message.messageText);
      await queue.deleteMessage(message.messageId, popReceipt);
    } catch (err) {
      this.#log(
        'error',
        `Could not move message ${message.messageId} to '${poisonName}': ${errorMessage(err)}`,
      );
    }
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
