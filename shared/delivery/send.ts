import { toActivity } from '../jobs/contract.js';
import type { RecipientKey } from '../jobs/recipient.js';
import type { Claimed } from './claim.js';
import type { BotConnector, ConnectorResult } from './connector.js';
import type { Deadline } from './deadline.js';
import type { OutcomeRecorder } from './outcome.js';
import { decideFailure } from './policy.js';
import type { DeliveryRateLimiter } from './rateLimiter.js';
import type { Recipients } from './recipients.js';
import { TeamsCalls, type CallEnd } from './teamsCall.js';
import { laneOfTask, waitedMs, type AttemptContext, type DeliveryResult, type DeliveryTask } from './task.js';
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

/** Thrown inside the send's rate-limit slot when the job was recalled: nothing goes out. */
class Recalled extends Error {}

/**
 * Sends a claimed delivery: opens the 1:1 chat if none is stored, sends within the rate limits and
 * the invocation's deadline (teamsCall.ts), and acts on each Teams answer as the policy says. Every
 * way out records the outcome.
 */
export async function openChatAndSend(
  task: DeliveryTask,
  key: RecipientKey,
  { claimed: claim, user: claimedUser }: Claimed,
  attempt: AttemptContext & { deadline: Deadline },
  o: SendOptions,
): Promise<DeliveryResult> {
  const { deadline } = attempt;
  let user = claimedUser;
  const serviceUrl = await o.recipients.serviceUrlFor(user);
  const lane = laneOfTask(task);
  // Urgent messages ask Teams to alert the person (contract.ts toActivity).
  let activity = toActivity(task.message, { alert: lane === 'urgent' });
  let revision: number | undefined;
  let conversationId = user.conversationId;
  let firstContact = false;
  let chatTime = user.chatNextAt;
  const finish = (outcome: Parameters<OutcomeRecorder['finish']>[2]) =>
    o.outcomes.finish(task, claim.record, outcome, deadline);
  const calls = new TeamsCalls({
    limiter: o.limiter,
    tenantId: task.tenantId,
    jobId: task.jobId,
    lane,
    deadline,
    maxWaitMs: o.maxWaitMs,
    reschedules: task.reschedules,
    decide: decideFailure,
    fence: () => claim.fence(),
    timings: attempt.timings,
  });

  for (;;) {
    let end: CallEnd<unknown>;
    if (!conversationId) {
      const botId = await o.recipients.botIdFor(user.tenantId);
      if (!botId) {
        return finish({
          status: 'failed',
          reason: 'BotIdUnknown',
          detail: 'no stored reference names the bot in this tenant and MicrosoftAppId is not set',
        });
      }
      const created = await calls.call({
        name: 'CreateConversation',
        run: (timeoutMs) =>
          o.connector.createConversation(
            serviceUrl,
            { botId, userId: user.userId, tenantId: user.tenantId },
            { timeoutMs },
          ),
      });
      if (created.do === 'accept') {
        conversationId = created.answer.body.id;
        firstContact = true;
        user = await o.recipients.storeConversation(key, user, conversationId);
        continue;
      }
      end = created;
    } else {
      const chat = conversationId;
      let sent: CallEnd<{ id?: string }>;
      try {
        sent = await calls.call({
          name: 'SendToConversation',
          conversationId: chat,
          notBefore: chatTime,
          run: async (timeoutMs): Promise<ConnectorResult<{ id?: string }>> => {
            // Read in the rate-limit slot, right before the call (token in hand): a recall asked for by
            // now stops the send here, or on another instance within CONTENT_TTL_MS (contentCache.ts).
            await o.connector.prepare?.();
            const latest = await o.hooks?.latest(task);
            if (latest === 'recalled') throw new Recalled();
            if (latest) ({ activity, revision } = latest);
            return o.connector.sendToConversation(serviceUrl, chat, activity, { timeoutMs });
          },
        });
      } catch (err) {
        if (!(err instanceof Recalled)) throw err;
        return finish({ status: 'cancelled', reason: 'Recalled', userId: user.userId });
      }
      chatTime = undefined;
      if (sent.do === 'accept') {
        // The record store indexes the message by chat with this write (read receipts, card presses).
        return finish({
          status: 'sent',
          waitMs: waitedMs(task),
          activityId: sent.answer.body.id,
          conversationId,
          firstContact,
          userId: user.userId,
          revision,
        });
      }
      end = sent;
    }

    switch (end.do) {
      case 'fenced':
        return o.outcomes.lost(task);
      case 'reschedule':
        return o.outcomes.reschedule(task, claim.record, end.delayMs, end.reason, deadline);
      case 'reopen-chat':
        // Teams forgot the chat (or it was deleted): forget it too and open it again, once.
        conversationId = undefined;
        user = await o.recipients.storeConversation(key, user, undefined);
        continue;
      case 'deactivate':
        await o.recipients.deactivate(key, user, end.reason, task.jobId);
        return finish({
          status: 'failed',
          reason: end.reason,
          detail: end.detail,
          userId: user.userId,
          waitMs: waitedMs(task),
        });
      case 'retry':
        return o.outcomes.retryLater(task, claim.record, attempt, end.reason, end.detail);
      case 'fail':
        return finish({
          status: 'failed',
          reason: end.reason,
          detail: end.detail,
          userId: user.userId,
          conversationId,
          waitMs: waitedMs(task),
        });
    }
  }
}
