import { toActivity } from '../jobs/contract.js';
import type { RecipientKey } from '../jobs/recipient.js';
import { EventNames, MetricNames, telemetry } from '../telemetry/telemetry.js';
import type { Claimed } from './claim.js';
import type { BotConnector, ConnectorResult } from './connector.js';
import type { OutcomeRecorder } from './outcome.js';
import { decideFailure } from './policy.js';
import type { DeliveryRateLimiter } from './rateLimiter.js';
import type { Recipients } from './recipients.js';
import type { AttemptContext, DeliveryResult, DeliveryTask } from './task.js';
import type { SendHooks } from '../followUps/sendHooks.js';

export interface SendOptions {
  connector: BotConnector;
  limiter: DeliveryRateLimiter;
  recipients: Recipients;
  outcomes: OutcomeRecorder;
  /** Throttled calls wait in-process up to this long before being rescheduled through the queue. */
  maxWaitMs: number;
  /** Updates and recalls (shared/followUps/): the latest content just before sending, the chat index after. */
  hooks?: SendHooks | undefined;
}

/** The answer standing in for a send that found its job recalled: nothing went out. */
const RECALLED = { ok: false as const, status: 0, code: 'Recalled', message: 'the job was recalled' };

const MAX_CALLS = 6;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `call` through `schedule` (the rate limits), adding the wait and the call's time to the attempt's timings. */
async function timed<T>(
  attempt: AttemptContext,
  schedule: (call: () => Promise<T>) => Promise<T>,
  call: () => Promise<T>,
): Promise<T> {
  const asked = performance.now();
  let started = asked;
  const result = await schedule(() => {
    started = performance.now();
    return call();
  });
  if (attempt.timings) {
    attempt.timings.waitMs += started - asked;
    attempt.timings.callMs += performance.now() - started;
  }
  return result;
}

/**
 * Sends a claimed delivery: opens the 1:1 chat if none is stored, sends within the rate limits, and
 * acts on each Teams answer as the policy says. Every way out records the outcome.
 */
export async function openChatAndSend(
  task: DeliveryTask,
  key: RecipientKey,
  { claimed, user: claimedUser }: Claimed,
  attempt: AttemptContext,
  o: SendOptions,
): Promise<DeliveryResult> {
  let user = claimedUser;
  const serviceUrl = await o.recipients.serviceUrlFor(user);
  let activity = toActivity(task.message);
  let revision: number | undefined;
  let conversationId = user.conversationId;
  let firstContact = false;
  let reopened = false;
  let chatTime = user.chatNextAt;
  let transientRetries = 0;

  for (let call = 0; call < MAX_CALLS; call++) {
    let answer: ConnectorResult<{ id?: string }>;
    if (!conversationId) {
      const botId = await o.recipients.botIdFor(user.tenantId);
      if (!botId) {
        return o.outcomes.finish(task, claimed, {
          status: 'failed',
          reason: 'BotIdUnknown',
          detail: 'no stored reference names the bot in this tenant and MicrosoftAppId is not set',
        });
      }
      const created = await timed(
        attempt,
        (call) => o.limiter.schedule(task.tenantId, undefined, call),
        () =>
          o.connector.createConversation(serviceUrl, { botId, userId: user.userId, tenantId: user.tenantId }),
      );
      if (created.ok) {
        conversationId = created.body.id;
        firstContact = true;
        user = await o.recipients.storeConversation(key, user, conversationId);
        continue;
      }
      answer = created;
    } else {
      const chat = conversationId;
      const at = chatTime;
      answer = await timed(
        attempt,
        (call) => o.limiter.schedule(task.tenantId, chat, call, at),
        async () => {
          // Read in the rate-limit slot, right before the call (token in hand): a recall asked for by
          // now stops the send here, or on another instance within CONTENT_TTL_MS (contentCache.ts).
          await o.connector.prepare?.();
          const latest = await o.hooks?.latest(task);
          if (latest === 'recalled') return RECALLED;
          if (latest) ({ activity, revision } = latest);
          return o.connector.sendToConversation(serviceUrl, chat, activity);
        },
      );
      chatTime = undefined;
    }

    if (answer.ok) {
      // The record store indexes the message by chat with this write (read receipts, card presses).
      return o.outcomes.finish(task, claimed, {
        status: 'sent',
        activityId: answer.body.id,
        conversationId,
        firstContact,
        userId: user.userId,
        revision,
      });
    }
    if (answer === RECALLED) {
      return o.outcomes.finish(task, claimed, {
        status: 'cancelled',
        reason: 'Recalled',
        userId: user.userId,
      });
    }
    const action = decideFailure(answer, {
      call,
      hasChat: !!conversationId,
      reopened,
      transientRetries,
      maxWaitMs: o.maxWaitMs,
    });
    const detail = answer.message;
    switch (action.do) {
      case 'wait':
      case 'reschedule':
        o.limiter.throttled(task.tenantId, action.delayMs, answer.status);
        telemetry().event(
          EventNames.throttled,
          {
            jobId: task.jobId,
            tenantId: task.tenantId,
            status: answer.status,
            call: conversationId ? 'SendToConversation' : 'CreateConversation',
            hasRetryAfter: answer.retryAfterMs !== undefined,
          },
          { retryAfterMs: action.delayMs },
        );
        telemetry().metric(MetricNames.throttles, 1, { tenantId: task.tenantId });
        if (action.do === 'reschedule') {
          return o.outcomes.reschedule(task, claimed, action.delayMs, action.reason);
        }
        await sleep(action.delayMs);
        continue;
      case 'retry-soon':
        // A brief 5xx or timeout usually clears in a moment: retry here before handing the message
        // back to the queue, whose visibility timeout (host.json) is many seconds.
        transientRetries++;
        await sleep(action.delayMs);
        continue;
      case 'reopen-chat':
        // Teams forgot the chat (or it was deleted): forget it too and open it again, once.
        reopened = true;
        conversationId = undefined;
        user = await o.recipients.storeConversation(key, user, undefined);
        continue;
      case 'deactivate':
        await o.recipients.deactivate(key, user, action.reason, task.jobId);
        return o.outcomes.finish(task, claimed, {
          status: 'failed',
          reason: action.reason,
          detail,
          userId: user.userId,
        });
      case 'retry':
        return o.outcomes.retryLater(task, claimed, attempt, action.reason, detail);
      case 'fail':
        return o.outcomes.finish(task, claimed, {
          status: 'failed',
          reason: action.reason,
          detail,
          userId: user.userId,
          conversationId,
        });
    }
  }
  return o.outcomes.retryLater(
    task,
    claimed,
    attempt,
    'TooManyConnectorCalls',
    'gave up after repeated throttling',
  );
}
