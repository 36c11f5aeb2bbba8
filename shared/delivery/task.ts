import type { NotificationMessage } from '../jobs/contract.js';
import type { UserRecord } from '../stores/conversations.js';
import type { DeliveryStatus } from '../stores/deliveryRecords.js';
import type { Deadline } from './deadline.js';
import type { Lane } from './lanes.js';

/** One recipient's share of a job, as carried on the deliveries queue. */
export interface DeliveryTask {
  v: 1;
  jobId: string;
  tenantId: string;
  /** `userId:…`, `aadObjectId:…` or `upn:…` */
  recipient: string;
  message: NotificationMessage;
  acceptedAt: string;
  notBefore?: string | undefined;
  expiresAt?: string | undefined;
  /** How many times this delivery was rescheduled after throttling. */
  reschedules: number;
  traceparent?: string | undefined;
  /** The recipient's record as the fan-out read it; used like a cached record (the claim checks its ETag). */
  user?: UserRecord | undefined;
  /** The job's lane (jobs/priority.ts): its queue, its place in the tenant's budget; absent: normal. */
  lane?: Lane | undefined;
  /** Set for audience jobs: the outcome is also counted on the job's counters (status at scale). */
  counted?: true | undefined;
  /**
   * Failed attempts before this queue message (a batch hands its failing recipient back as a message
   * of its own): with the message's dequeue count, how many times the host has tried it.
   */
  attempts?: number | undefined;
}

export interface AttemptContext {
  /** The queue message, its delivery and the invocation (policy.ts claimTokenOf); unique per attempt. */
  claimToken: string;
  dequeueCount: number;
  maxDequeueCount: number;
  /** Filled in when given: where this attempt's time went (the deliveries function logs it). */
  timings?: DeliveryTimings | undefined;
  /** The invocation's deadline (deadline.ts); without one, a deadline from the attempt's start. */
  deadline?: Deadline | undefined;
  /** One of a batch's recipients: a failure hands it back as a message of its own (batchTurn.ts). */
  inBatch?: boolean | undefined;
}

/** How long a delivery has waited (ms): since its job was accepted, or since its notBefore if later. */
export const waitedMs = (task: Pick<DeliveryTask, 'acceptedAt' | 'notBefore'>, now = Date.now()) =>
  Math.max(0, now - Math.max(Date.parse(task.acceptedAt), task.notBefore ? Date.parse(task.notBefore) : 0));

/** A task's lane; tasks queued before lanes existed are normal. */
export const laneOfTask = (task: Pick<DeliveryTask, 'lane'>): Lane => task.lane ?? 'normal';

/** The attempt this is for the host: earlier failed attempts carried in the task, plus this message's. */
export const attemptNumber = (
  task: Pick<DeliveryTask, 'attempts'>,
  attempt: Pick<AttemptContext, 'dequeueCount'>,
) => (task.attempts ?? 0) + attempt.dequeueCount;

/** Milliseconds an attempt spent claiming, waiting for the rate limits, and in Teams calls. */
export interface DeliveryTimings {
  claimMs: number;
  waitMs: number;
  callMs: number;
}

export type DeliveryResult =
  | { kind: 'done'; status: DeliveryStatus; reason?: string | undefined; duplicate?: boolean }
  /** Put the task back on the queue after `delayMs`, without counting a failed attempt. */
  | { kind: 'reschedule'; delayMs: number; reason: string }
  /** Let the queue retry (counts towards the max dequeue count); `last`: the failure is recorded. */
  | { kind: 'retry'; reason: string; last?: boolean };
