import { randomUUID } from 'node:crypto';
import type { QueueSender } from '../queues.js';
import type { JobRef } from '../stores/jobs.js';
import { EventNames, telemetry } from '../telemetry/telemetry.js';
import { refuseCallbackUrl, type CallbackPolicy } from './addressPolicy.js';
import {
  CLOUDEVENTS_JSON,
  jobEvent,
  type CallbackEvent,
  type CloudEvent,
  type JobEventData,
} from './event.js';
import type { CallbackStore } from './port.js';
import { decideAfterAttempt, type AttemptResult } from './retry.js';
import { postEvent } from './sender.js';
import { SIGNATURE_HEADER, signatureOf, TIMESTAMP_HEADER } from './signature.js';

/**
 * A job's callback, from the queue: each message is one attempt; the first to claim the event owns
 * it (port.ts), a failed attempt that may pass goes back on the queue with its wait (retry.ts), and
 * every attempt's outcome is saved where the job's status shows it.
 */

export interface CallbackTask {
  v: 1;
  kind: 'callback';
  event: CallbackEvent;
  tenantId: string;
  jobId: string;
  url: string;
  /** Which enqueue owns the event (the first to claim it). */
  token: string;
  attempt: number;
  cloudEvent: CloudEvent;
}

export const isCallbackTask = (value: unknown): value is CallbackTask => {
  const t = value as Partial<CallbackTask> | undefined;
  return !!t && t.v === 1 && t.kind === 'callback' && typeof t.token === 'string' && !!t.cloudEvent;
};

interface Options {
  store: CallbackStore;
  queue: QueueSender;
  secret: string | undefined;
  policy: CallbackPolicy;
  firstRetrySeconds: number;
  post?: typeof postEvent;
}

export class CallbackService {
  constructor(private readonly o: Options) {}

  /** Queues a job's event; copies queued by several instances are harmless (one claims it). */
  async enqueue(event: CallbackEvent, ref: JobRef, url: string, data: JobEventData): Promise<void> {
    const task: CallbackTask = {
      v: 1,
      kind: 'callback',
      event,
      ...ref,
      url,
      token: randomUUID(),
      attempt: 1,
      cloudEvent: jobEvent(event, ref, data, new Date()),
    };
    await this.o.queue.send(task);
  }

  /** One attempt; answers what happened, for the log (no URL: it may carry the producer's secrets). */
  async attempt(task: CallbackTask): Promise<string> {
    const ref = { tenantId: task.tenantId, jobId: task.jobId };
    const record = await this.o.store.claim(ref, task.event, task.token, task.url);
    if (!record) return 'another copy of this event owns it';
    if (record.state === 'delivered' || record.state === 'failed' || record.attempts >= task.attempt)
      return `already ${record.state}`;
    const result = await this.send(task);
    const decision = decideAfterAttempt(result, task.attempt, this.o.firstRetrySeconds);
    const seen = {
      attempts: task.attempt,
      ...(result.kind === 'answered' ? { lastStatus: result.status } : { lastError: result.why }),
    };
    const props = { event: task.event, jobId: task.jobId, tenantId: task.tenantId, attempts: task.attempt };
    if (decision.do === 'delivered') {
      await this.o.store.save(ref, task.event, {
        ...seen,
        state: 'delivered',
        deliveredAt: new Date().toISOString(),
      });
      telemetry().event(EventNames.callbackDelivered, props);
      return `delivered on attempt ${task.attempt}`;
    }
    if (decision.do === 'give-up') {
      await this.o.store.save(ref, task.event, { ...seen, state: 'failed', lastError: decision.why });
      telemetry().event(EventNames.callbackFailed, { ...props, reason: decision.why });
      return `failed: ${decision.why}`;
    }
    const at = new Date(Date.now() + decision.delaySeconds * 1000).toISOString();
    await this.o.store.save(ref, task.event, { ...seen, state: 'retrying', nextAttemptAt: at });
    await this.o.queue.send({ ...task, attempt: task.attempt + 1 }, decision.delaySeconds * 1000);
    return `${decision.why}; attempt ${task.attempt + 1} in ${decision.delaySeconds} s`;
  }

  private async send(task: CallbackTask): Promise<AttemptResult> {
    if (!this.o.secret) return { kind: 'refused', why: 'CALLBACK_SIGNING_SECRET is not set' };
    // The settings may have changed since the job was accepted: the host must still be allowed.
    const refused = refuseCallbackUrl(task.url, this.o.policy);
    if (refused) return { kind: 'refused', why: refused };
    const body = JSON.stringify(task.cloudEvent);
    const timestamp = Math.floor(Date.now() / 1000);
    return (this.o.post ?? postEvent)(
      task.url,
      body,
      {
        'content-type': CLOUDEVENTS_JSON,
        'user-agent': 'teams-notifier-callbacks',
        [TIMESTAMP_HEADER]: String(timestamp),
        [SIGNATURE_HEADER]: signatureOf(this.o.secret, timestamp, body),
      },
      this.o.policy,
    );
  }
}
