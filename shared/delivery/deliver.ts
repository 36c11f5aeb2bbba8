import { LRUCache } from 'lru-cache';
import { toActivity, type NotificationMessage } from '../jobs/contract.js';
import { parseRecipientKeyString, type RecipientKey } from '../jobs/recipient.js';
import type { ConversationStore, UserRecord } from '../store/conversationStore.js';
import {
  TERMINAL,
  type DeliveryOutcome,
  type DeliveryRecord,
  type DeliveryStore,
} from '../store/deliveryStore.js';
import { statusOf } from '../storage/table.js';
import { EventNames, MetricNames, telemetry } from '../telemetry/telemetry.js';
import type { BotConnector, ConnectorResult } from './connector.js';
import type { DeliveryRateLimiter } from './rateLimiter.js';
import { backoffMs, classifyFailure, reasonOf } from './teamsErrors.js';

/**
 * Delivers one message to one recipient, exactly once: resolve the recipient with point reads,
 * claim the delivery record, open the 1:1 chat if none is stored, send within the rate limits,
 * and record the outcome. The queue function and the @mention command both call this.
 */

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
}

export interface AttemptContext {
  /** Identifies this queue message across redeliveries (the queue message ID). */
  claimToken: string;
  dequeueCount: number;
  maxDequeueCount: number;
}

export type DeliveryResult =
  | { kind: 'done'; status: DeliveryRecord['status']; reason?: string | undefined; duplicate?: boolean }
  /** Put the task back on the queue after `delayMs`, without counting a failed attempt. */
  | { kind: 'reschedule'; delayMs: number; reason: string }
  /** Let the queue retry (counts towards the max dequeue count). */
  | { kind: 'retry'; reason: string };

export interface DeliveryServiceOptions {
  conversations: ConversationStore;
  deliveries: DeliveryStore;
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
  maxReschedules?: number;
  /** How long the outcome of a connector call is retried while storage is unreachable. */
  outcomeWriteRetryMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** No answer (connection refused, reset, timeout), or storage's own 408/429/5xx: worth waiting out. */
function isTransientStorageError(err: unknown): boolean {
  const status = statusOf(err);
  if (status === undefined) return (err as { name?: unknown } | null)?.name === 'RestError';
  return status === 408 || status === 429 || status >= 500;
}
const hourOf = (date: Date) => date.toISOString().slice(0, 13);

export class DeliveryService {
  /** Recent user records by tenant and recipient key; every use is validated by the claim's ETag check. */
  private readonly users = new LRUCache<string, UserRecord>({ max: 50_000, ttl: 10 * 60_000 });
  private readonly leaseMs: number;
  private readonly maxWaitMs: number;
  private readonly maxReschedules: number;
  private readonly outcomeWriteRetryMs: number;

  constructor(private readonly o: DeliveryServiceOptions) {
    this.leaseMs = o.claimLeaseMs ?? 2 * 60_000;
    this.outcomeWriteRetryMs = o.outcomeWriteRetryMs ?? 60_000;
    this.maxWaitMs = o.maxInProcessWaitMs ?? 10_000;
    this.maxReschedules = o.maxReschedules ?? 50;
  }

  async deliver(task: DeliveryTask, attempt: AttemptContext): Promise<DeliveryResult> {
    const now = new Date();
    const key = parseRecipientKeyString(task.recipient);
    if (task.expiresAt && Date.parse(task.expiresAt) <= now.getTime()) {
      return this.finishUnclaimed(task, {
        status: 'failed',
        reason: 'Expired',
        detail: `expired at ${task.expiresAt}`,
      });
    }
    if (task.notBefore && Date.parse(task.notBefore) > now.getTime()) {
      return { kind: 'reschedule', delayMs: Date.parse(task.notBefore) - now.getTime(), reason: 'NotBefore' };
    }

    let existing: DeliveryRecord | undefined;
    let fresh = false;
    for (let round = 0; round < 8; round++) {
      let user = await this.resolve(task.tenantId, key, fresh, task.user);
      // The claim's ETag check only guards sends: a skip or failure from a cached record (say,
      // opted out before the user typed "start") must be confirmed by a fresh read.
      if (!fresh && user && (user.inactiveReason || user.optedOut)) {
        user = await this.resolve(task.tenantId, key, true);
      }
      fresh = true;
      if (!user) {
        return this.finishUnclaimed(task, {
          status: 'failed',
          reason: 'RecipientNotFound',
          detail: `no user with ${key.kind} ${key.kind === 'userId' ? 'known' : 'stored'} in this tenant; install the bot for the user or in one of their teams`,
        });
      }
      if (user.inactiveReason) {
        return this.finishUnclaimed(task, {
          status: 'failed',
          reason: 'RecipientInactive',
          detail: user.inactiveReason,
          userId: user.userId,
        });
      }
      if (user.optedOut) {
        return this.finishUnclaimed(task, { status: 'skipped', reason: 'OptedOut', userId: user.userId });
      }
      const hour = hourOf(now);
      if (user.capHour === hour && user.capCount >= this.o.recipientHourlyCap) {
        return this.finishUnclaimed(task, {
          status: 'skipped',
          reason: 'HourlyCapReached',
          detail: `${this.o.recipientHourlyCap} notifications this hour`,
          userId: user.userId,
        });
      }

      // The claim also reserves this send's time in the user's chat, shared by every instance.
      user = { ...user, chatNextAt: this.o.limiter.reserveChatTime(user.chatNextAt) };
      const claim = await this.o.deliveries.claim({
        tenantId: task.tenantId,
        jobId: task.jobId,
        recipient: task.recipient,
        claimToken: attempt.claimToken,
        user,
        capHour: hour,
        existing,
      });
      if (claim.kind === 'user-changed') {
        this.forget(task.tenantId, key);
        continue;
      }
      if (claim.kind === 'delivery-exists') {
        const d = claim.delivery;
        if (TERMINAL.has(d.status)) {
          telemetry().event(EventNames.deliveryDuplicateSuppressed, { jobId: task.jobId, status: d.status });
          return { kind: 'done', status: d.status, reason: d.reason, duplicate: true };
        }
        const abandoned = d.status === 'pending' || d.claimToken === attempt.claimToken;
        const age = now.getTime() - Date.parse(d.claimedAt ?? d.updatedAt);
        if (!abandoned && age < this.leaseMs) {
          // Another copy of this delivery is being worked on right now; look again after its lease.
          return { kind: 'reschedule', delayMs: this.leaseMs - age, reason: 'ClaimedElsewhere' };
        }
        existing = d;
        continue;
      }
      const counted = { ...user, capHour: hour, capCount: user.capHour === hour ? user.capCount + 1 : 1 };
      this.remember(task.tenantId, key, { ...counted, etag: claim.userEtag });
      return this.send(task, key, { ...counted, etag: claim.userEtag }, claim.delivery, attempt);
    }
    return { kind: 'retry', reason: 'StorageContention' };
  }

  private async send(
    task: DeliveryTask,
    key: RecipientKey,
    user: UserRecord,
    claimed: DeliveryRecord,
    attempt: AttemptContext,
  ): Promise<DeliveryResult> {
    const serviceUrl = await this.serviceUrlFor(user);
    const activity = toActivity(task.message);
    let conversationId = user.conversationId;
    let firstContact = false;
    let recreated = false;
    let chatTime = user.chatNextAt;
    let transientRetries = 0;

    for (let call = 0; call < 6; call++) {
      let result: ConnectorResult<{ id?: string }>;
      if (!conversationId) {
        const botId = await this.botIdFor(user.tenantId);
        if (!botId) {
          return this.finishClaimed(task, claimed, {
            status: 'failed',
            reason: 'BotIdUnknown',
            detail: 'no stored reference names the bot in this tenant and MicrosoftAppId is not set',
          });
        }
        const created = await this.o.limiter.schedule(task.tenantId, undefined, () =>
          this.o.connector.createConversation(serviceUrl, {
            botId,
            userId: user.userId,
            tenantId: user.tenantId,
          }),
        );
        if (created.ok) {
          conversationId = created.body.id;
          firstContact = true;
          user = await this.storeConversation(key, user, conversationId);
          continue;
        }
        result = created;
      } else {
        const chat = conversationId;
        result = await this.o.limiter.schedule(
          task.tenantId,
          chat,
          () => this.o.connector.sendToConversation(serviceUrl, chat, activity),
          chatTime,
        );
        chatTime = undefined;
        if (result.ok) {
          return this.finishClaimed(task, claimed, {
            status: 'sent',
            activityId: result.body.id,
            conversationId,
            firstContact,
            userId: user.userId,
          });
        }
      }

      const failure = result;
      const kind = classifyFailure(failure);
      const reason = reasonOf(failure);
      if (kind === 'throttled') {
        const delay = failure.retryAfterMs ?? backoffMs(call);
        this.o.limiter.throttled(task.tenantId, delay);
        telemetry().event(
          EventNames.throttled,
          {
            jobId: task.jobId,
            tenantId: task.tenantId,
            status: failure.status,
            call: conversationId ? 'SendToConversation' : 'CreateConversation',
            hasRetryAfter: failure.retryAfterMs !== undefined,
          },
          { retryAfterMs: delay },
        );
        telemetry().metric(MetricNames.throttles, 1, { tenantId: task.tenantId });
        if (delay <= this.maxWaitMs && call < 3) {
          await sleep(delay);
          continue;
        }
        return this.reschedule(task, claimed, delay, reason);
      }
      if (kind === 'conversation-not-found' && conversationId && !recreated) {
        // Teams forgot the chat (or it was deleted): forget it too and open it again, once.
        recreated = true;
        conversationId = undefined;
        user = await this.storeConversation(key, user, undefined);
        continue;
      }
      if (kind === 'blocked') {
        await this.deactivate(key, user, reason, task.jobId);
        return this.finishClaimed(task, claimed, {
          status: 'failed',
          reason,
          detail: failure.message,
          userId: user.userId,
        });
      }
      if (kind === 'transient') {
        // A brief 5xx or timeout usually clears in a moment: retry here once or twice before handing
        // the message back to the queue, whose visibility timeout (host.json) is many seconds.
        if (transientRetries++ < 2) {
          await sleep(backoffMs(transientRetries, 500));
          continue;
        }
        return this.retryLater(task, claimed, attempt, reason, failure.message);
      }
      return this.finishClaimed(task, claimed, {
        status: 'failed',
        reason,
        detail: failure.message,
        userId: user.userId,
        conversationId,
      });
    }
    return this.retryLater(
      task,
      claimed,
      attempt,
      'TooManyConnectorCalls',
      'gave up after repeated throttling',
    );
  }

  private async reschedule(task: DeliveryTask, claimed: DeliveryRecord, delayMs: number, reason: string) {
    if (task.reschedules >= this.maxReschedules) {
      return this.finishClaimed(task, claimed, {
        status: 'failed',
        reason: 'ThrottledTooLong',
        detail: `still ${reason} after ${task.reschedules} reschedules`,
      });
    }
    await this.o.deliveries.complete(task.tenantId, claimed, {
      status: 'pending',
      reason,
      detail: 'rescheduled',
    });
    telemetry().event(EventNames.deliveryRetry, { jobId: task.jobId, reason, via: 'reschedule' });
    return { kind: 'reschedule' as const, delayMs, reason };
  }

  /** A transient failure: release the claim and let the queue retry; on the last attempt, record the failure. */
  private async retryLater(
    task: DeliveryTask,
    claimed: DeliveryRecord,
    attempt: AttemptContext,
    reason: string,
    detail: string,
  ): Promise<DeliveryResult> {
    if (attempt.dequeueCount >= attempt.maxDequeueCount) {
      await this.finishClaimed(task, claimed, {
        status: 'failed',
        reason,
        detail: `${detail} (after ${attempt.dequeueCount} attempts; message moved to the poison queue)`,
      });
      return { kind: 'retry', reason };
    }
    await this.o.deliveries.complete(task.tenantId, claimed, { status: 'pending', reason, detail });
    telemetry().event(EventNames.deliveryRetry, { jobId: task.jobId, reason, via: 'queue' });
    return { kind: 'retry', reason };
  }

  private async finishClaimed(task: DeliveryTask, claimed: DeliveryRecord, outcome: DeliveryOutcome) {
    const stood = await this.completeDespiteOutage(task.tenantId, claimed, outcome);
    if (!stood) {
      // Someone took the claim over after our lease ran out; their record stands.
      const current = await this.o.deliveries.get(task.tenantId, task.jobId, task.recipient);
      return { kind: 'done' as const, status: current?.status ?? outcome.status, reason: current?.reason };
    }
    this.report(task, outcome, claimed.attempts);
    return { kind: 'done' as const, status: outcome.status, reason: outcome.reason };
  }

  /**
   * Writes the outcome, retrying while storage is unreachable. After Teams accepted a message this
   * write is all that stops a retry from sending it again, so a storage outage (or restart) of up to
   * about a minute must not turn into a duplicate.
   */
  private async completeDespiteOutage(
    tenantId: string,
    claimed: DeliveryRecord,
    outcome: DeliveryOutcome,
  ): Promise<boolean> {
    const deadline = Date.now() + this.outcomeWriteRetryMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.o.deliveries.complete(tenantId, claimed, outcome);
      } catch (err) {
        if (!isTransientStorageError(err) || Date.now() >= deadline) throw err;
        await sleep(Math.min(5000, 500 * 2 ** attempt, Math.max(0, deadline - Date.now())));
      }
    }
  }

  private async finishUnclaimed(task: DeliveryTask, outcome: DeliveryOutcome): Promise<DeliveryResult> {
    const record = await this.o.deliveries.recordWithoutClaim(
      task.tenantId,
      task.jobId,
      task.recipient,
      outcome,
    );
    const duplicate = record.status !== outcome.status || record.reason !== outcome.reason;
    if (!duplicate) this.report(task, outcome, 0);
    return { kind: 'done', status: record.status, reason: record.reason, duplicate };
  }

  private report(task: DeliveryTask, outcome: DeliveryOutcome, attempts: number) {
    const t = telemetry();
    const props = {
      jobId: task.jobId,
      tenantId: task.tenantId,
      recipient: t.userRef(task.recipient),
      reason: outcome.reason,
    };
    t.metric(MetricNames.outcomes, 1, { tenantId: task.tenantId, outcome: outcome.status });
    if (outcome.status === 'sent') {
      const latency = Date.now() - Date.parse(task.acceptedAt);
      t.event(
        EventNames.deliverySent,
        {
          ...props,
          firstContact: outcome.firstContact === true,
          chat: outcome.firstContact ? 'created' : 'cached',
        },
        { latencyMs: latency, attempts, reschedules: task.reschedules },
      );
      t.metric(MetricNames.deliveryLatency, latency, { tenantId: task.tenantId });
    } else if (outcome.status === 'failed') {
      t.event(EventNames.deliveryFailed, props, { attempts, reschedules: task.reschedules });
    } else {
      t.event(EventNames.deliverySkipped, props);
    }
  }

  private async resolve(
    tenantId: string,
    key: RecipientKey,
    fresh: boolean,
    snapshot?: UserRecord,
  ): Promise<UserRecord | undefined> {
    const cacheKey = `${tenantId}|${key.kind}:${key.value}`;
    if (!fresh) {
      const cached = this.users.get(cacheKey) ?? (snapshot?.tenantId === tenantId ? snapshot : undefined);
      if (cached) return cached;
    }
    let user = await this.o.conversations.getUser(tenantId, key);
    if (!user && key.kind === 'userId') {
      // A Teams user ID is enough to open a chat even if the bot never saw this user.
      const tenant = await this.o.conversations.getTenant(tenantId);
      user = await this.o.conversations.saveUser(
        tenantId,
        { userId: key.value, serviceUrl: tenant?.serviceUrl ?? this.o.defaultServiceUrl },
        { source: 'job' },
      );
    }
    if (user) this.users.set(cacheKey, user);
    return user;
  }

  private remember(tenantId: string, key: RecipientKey, user: UserRecord) {
    this.users.set(`${tenantId}|${key.kind}:${key.value}`, user);
  }

  private forget(tenantId: string, key: RecipientKey) {
    this.users.delete(`${tenantId}|${key.kind}:${key.value}`);
  }

  private async storeConversation(key: RecipientKey, user: UserRecord, conversationId: string | undefined) {
    const { user: stored } = await this.o.conversations.updateUser(user.tenantId, user.userId, (current) =>
      current ? { ...current, conversationId, updatedAt: new Date().toISOString() } : undefined,
    );
    const next = stored ?? { ...user, conversationId };
    this.remember(user.tenantId, key, next);
    return next;
  }

  private async deactivate(key: RecipientKey, user: UserRecord, reason: string, jobId: string) {
    await this.o.conversations.updateUser(user.tenantId, user.userId, (current) =>
      current ? { ...current, inactiveReason: reason, updatedAt: new Date().toISOString() } : undefined,
    );
    this.forget(user.tenantId, key);
    telemetry().event(EventNames.recipientDeactivated, {
      tenantId: user.tenantId,
      reason,
      jobId,
      recipient: telemetry().userRef(`userId:${user.userId}`),
    });
  }

  private async serviceUrlFor(user: UserRecord): Promise<string> {
    if (user.serviceUrl) return user.serviceUrl;
    return (await this.o.conversations.getTenant(user.tenantId))?.serviceUrl ?? this.o.defaultServiceUrl;
  }

  private readonly botIds = new Map<string, string>();

  private async botIdFor(tenantId: string): Promise<string | undefined> {
    const cached = this.botIds.get(tenantId);
    if (cached) return cached;
    const botId = (await this.o.conversations.getTenant(tenantId))?.botId ?? this.o.botId;
    if (botId) this.botIds.set(tenantId, botId);
    return botId;
  }
}
