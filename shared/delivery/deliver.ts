import { parseRecipientKeyString } from '../jobs/recipient.js';
import type { ConversationStore } from '../stores/conversations.js';
import type { DeliveryRecordStore } from '../stores/deliveryRecords.js';
import { claimDelivery, type ClaimOptions } from './claim.js';
import type { BotConnector } from './connector.js';
import { invocationDeadline, type DeadlinePolicy } from './deadline.js';
import { refundHourlyCap } from './hourlyCap.js';
import { OutcomeRecorder } from './outcome.js';
import { dueness } from './policy.js';
import type { DeliveryRateLimiter } from './rateLimiter.js';
import { Recipients, type UnknownRecipients } from './recipients.js';
import { openChatAndSend, type SendOptions } from './send.js';
import type { AttemptContext, DeliveryResult, DeliveryTask } from './task.js';
import type { SendHooks } from '../followUps/sendHooks.js';

/**
 * Delivers one message to one recipient, exactly once: resolve the recipient with point reads,
 * claim the delivery record (claim.ts), open the 1:1 chat if none is stored and send within the rate
 * limits (send.ts), and record the outcome (outcome.ts); the decisions are in policy.ts. The queue
 * function and the @mention command both call this.
 */

/** How soon a copy of a delivery this process is still working on looks again. */
const IN_FLIGHT_RECHECK_MS = 10_000;

interface DeliveryServiceOptions {
  conversations: ConversationStore;
  records: DeliveryRecordStore;
  connector: BotConnector;
  limiter: DeliveryRateLimiter;
  /** The bot's ID in Teams (`28:<appId>`), used when no stored reference in the tenant names it. */
  botId: string | undefined;
  defaultServiceUrl: string;
  recipientHourlyCap: number;
  /** A claim older than this is presumed abandoned by a crashed worker. */
  claimLeaseMs?: number;
  /** Throttled calls wait in-process up to this long before being rescheduled through the queue. */
  maxInProcessWaitMs?: number;
  /** Throttling and outages are waited out this long after a job was accepted (default 24 hours). */
  retryWindowMs?: number;
  /** For an attempt without a deadline of its own (deadline.ts); default: host.json's 5 minutes, 15 s calls. */
  deadlinePolicy?: Omit<DeadlinePolicy, 'claimLeaseMs'> | undefined;
  /** How long the outcome of a connector call is retried while storage is unreachable. */
  outcomeWriteRetryMs?: number;
  /** Updates and recalls: see send.ts. */
  hooks?: SendHooks | undefined;
  /** People the store does not know, by UPN or AAD object ID: Microsoft Graph (shared/graph/reach.ts). */
  unknownRecipients?: UnknownRecipients | undefined;
}

/** A claim older than this is presumed abandoned (deadline.ts keeps every call well inside it). */
export const CLAIM_LEASE_MS = 2 * 60_000;
const DEFAULT_RETRY_WINDOW_MS = 24 * 3600_000;

export class DeliveryService {
  private readonly outcomes: OutcomeRecorder;
  private readonly deadlinePolicy: DeadlinePolicy;
  private readonly claimOptions: ClaimOptions;
  private readonly sendOptions: SendOptions;

  constructor(o: DeliveryServiceOptions) {
    const recipients = new Recipients(
      o.conversations,
      { botId: o.botId, serviceUrl: o.defaultServiceUrl },
      o.unknownRecipients,
    );
    this.outcomes = new OutcomeRecorder(o.records, {
      retryWindowMs: o.retryWindowMs ?? DEFAULT_RETRY_WINDOW_MS,
      outcomeWriteRetryMs: o.outcomeWriteRetryMs ?? 60_000,
      // A cached user record made stale by this costs one read at its next claim (its ETag changed).
      refundCap: (tenantId, record) => refundHourlyCap(o.conversations, tenantId, record),
    });
    this.deadlinePolicy = {
      functionTimeoutMs: 5 * 60_000,
      connectorTimeoutMs: 15_000,
      ...o.deadlinePolicy,
      claimLeaseMs: o.claimLeaseMs ?? CLAIM_LEASE_MS,
    };
    this.claimOptions = {
      records: o.records,
      recipients,
      outcomes: this.outcomes,
      limiter: o.limiter,
      recipientHourlyCap: o.recipientHourlyCap,
      leaseMs: o.claimLeaseMs ?? CLAIM_LEASE_MS,
    };
    this.sendOptions = {
      connector: o.connector,
      limiter: o.limiter,
      recipients,
      outcomes: this.outcomes,
      maxWaitMs: o.maxInProcessWaitMs ?? 10_000,
      hooks: o.hooks,
    };
  }

  /**
   * Deliveries this process is working on. A queue message whose lease renewal failed (storage down
   * for a moment) comes back while its first invocation still runs, with the same claim token, which
   * would pass for a crashed worker's copy: here it waits for the first invocation instead.
   */
  private readonly inFlight = new Set<string>();

  async deliver(task: DeliveryTask, attempt: AttemptContext): Promise<DeliveryResult> {
    const id = `${task.tenantId}|${task.jobId}|${task.recipient}`;
    if (this.inFlight.has(id))
      return { kind: 'reschedule', delayMs: IN_FLIGHT_RECHECK_MS, reason: 'ClaimedElsewhere' };
    this.inFlight.add(id);
    try {
      return await this.deliverOnce(task, attempt);
    } finally {
      this.inFlight.delete(id);
    }
  }

  private async deliverOnce(task: DeliveryTask, attempt: AttemptContext): Promise<DeliveryResult> {
    const now = new Date();
    const key = parseRecipientKeyString(task.recipient);
    const due = dueness(task, now);
    if ('outcome' in due) return this.outcomes.finishUnclaimed(task, due.outcome);
    if ('delayMs' in due) return { kind: 'reschedule', delayMs: due.delayMs, reason: 'NotBefore' };
    // The claim's own waits (Microsoft Graph, for people the bot never met) keep the deadline too.
    const deadline = attempt.deadline ?? invocationDeadline(now.getTime(), this.deadlinePolicy);
    const timed = { ...attempt, deadline };
    const claimStarted = performance.now();
    const claim = await claimDelivery(task, key, timed, now, this.claimOptions);
    if (attempt.timings) attempt.timings.claimMs += performance.now() - claimStarted;
    if ('kind' in claim) return claim;
    return openChatAndSend(task, key, claim, timed, this.sendOptions);
  }
}
