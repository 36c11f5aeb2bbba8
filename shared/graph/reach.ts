import type { BotConnector, ConnectorResult } from '../delivery/connector.js';
import { DeadlinePassedError } from '../delivery/deadline.js';
import { backoffMs } from '../delivery/policy.js';
import type { DeliveryRateLimiter } from '../delivery/rateLimiter.js';
import type { Reached, UnknownRecipients } from '../delivery/recipients.js';
import { attemptNumber, type AttemptContext, type DeliveryTask } from '../delivery/task.js';
import type { RecipientKey } from '../jobs/recipient.js';
import { isBotId, profileFromAccount } from '../roster/accounts.js';
import { profileChange, type ConversationStore, type UserRecord } from '../stores/conversations.js';
import { isFreshMark, type InstallMark, type InstallMarks } from '../stores/installMarks.js';
import { EventNames, telemetry } from '../telemetry/telemetry.js';
import type { CatalogIds } from './catalog.js';
import { decideGraphFailure, permissionMissing, rolesAllow, type GraphAction } from './failures.js';
import { installEligibility } from './people.js';
import type { GraphPort, GraphUser } from './port.js';
import { tenantProblem, type GraphSetup } from './setup.js';

/**
 * People the bot never met, reached through Microsoft Graph as msteams-docs describes it
 * ("Proactively install your bot for users using Microsoft Graph", "Send a personal welcome
 * message"): find the user, install the app for them (a 409 means it already is), take the 1:1 chat
 * of the installation, learn their Teams user ID in it from the Bot Connector, and store them as a
 * personal install would. Nothing is sent here: the delivery then claims and sends as for anyone,
 * exactly once. Every step is safe to repeat (docs/graph.md, "Exactly once").
 */

/** Graph listed no installation right after installing: asked again this much later. */
const INSTALL_PENDING_MS = 3000;

export interface GraphRecipientsOptions {
  setup: GraphSetup;
  /** Absent when Graph is not configured. */
  graph?: GraphPort | undefined;
  catalog?: CatalogIds | undefined;
  conversations: ConversationStore;
  marks: InstallMarks;
  connector: BotConnector;
  /** The Bot Connector's limiter: the member read counts against Teams' budget like any call. */
  limiter: Pick<DeliveryRateLimiter, 'schedule' | 'throttled'>;
  defaultServiceUrl: string;
  /**
   * As the Bot Connector's (delivery/outcome.ts, DELIVERY_RETRY_HOURS): throttling and outages are
   * waited out this long after the job was accepted, then the delivery fails.
   */
  retryWindowMs: number;
}

export class GraphRecipients implements UnknownRecipients {
  constructor(private readonly o: GraphRecipientsOptions) {}

  async reach(task: DeliveryTask, key: RecipientKey, attempt: AttemptContext): Promise<Reached> {
    const { graph, catalog } = this.o;
    const tenantId = task.tenantId;
    const problem = tenantProblem(this.o.setup, tenantId);
    if (problem || !graph || !catalog) {
      return {
        outcome: {
          status: 'failed',
          reason: 'RecipientNotFound',
          detail: `no user with ${key.kind} stored in this tenant: install the bot for the user or in one of their teams. ${problem ?? 'Microsoft Graph is not configured'}, so the app cannot install itself for people it never met (docs/graph.md)`,
        },
      };
    }
    const act = (action: GraphAction) => this.act(action, task, attempt);
    // No Graph wait or call runs past the invocation's deadline (delivery/deadline.ts).
    const within = { deadline: attempt.deadline };

    const found = await graph.getUser(tenantId, key.value, within);
    if (!found.ok)
      return act(decideGraphFailure(found, await graph.grantedRoles(tenantId), task.reschedules));
    const person = found.value;
    const skip = installEligibility(person);
    if (skip) return { outcome: skip };
    const known = await this.knownAs(tenantId, person);
    if (known) return { user: known };

    let mark = await this.o.marks.get(tenantId, person.id);
    if (!isFreshMark(mark) || !mark.chatId) {
      const catalogId = await catalog.id(tenantId, within);
      if (!catalogId.ok) return act(catalogId.action);
      const roles = await graph.grantedRoles(tenantId);
      if (rolesAllow('installApp', roles) === false) return act(permissionMissing('installApp'));
      // Marked before installing: Teams' installation activity may come before Graph answers.
      if (!isFreshMark(mark)) {
        mark = {
          aadObjectId: person.id,
          upn: upnOf(person),
          name: person.displayName ?? undefined,
          at: new Date().toISOString(),
        };
        await this.o.marks.put(tenantId, mark);
      }
      const installed = await graph.installApp(tenantId, person.id, catalogId.id, within);
      if (!installed.ok) return act(decideGraphFailure(installed, roles, task.reschedules));
      telemetry().event(EventNames.appInstalledForUser, {
        tenantId,
        jobId: task.jobId,
        result: installed.value,
      });
      const stored = await this.knownAs(tenantId, person);
      if (stored?.conversationId) return { user: stored };
      const installation = await graph.findInstallation(tenantId, person.id, catalogId.id, within);
      if (!installation.ok) return act(decideGraphFailure(installation, roles, task.reschedules));
      if (!installation.value)
        return act({ do: 'reschedule', reason: 'InstallPending', delayMs: INSTALL_PENDING_MS });
      const chat = await graph.getChat(tenantId, person.id, installation.value, within);
      if (!chat.ok) return act(decideGraphFailure(chat, roles, task.reschedules));
      mark = { ...mark, chatId: chat.value };
      await this.o.marks.put(tenantId, mark);
    }
    return this.storeFromChat(task, attempt, person, mark);
  }

  /** The chat's user from the Bot Connector (their Teams user ID), stored as a personal install. */
  private async storeFromChat(
    task: DeliveryTask,
    attempt: AttemptContext,
    person: GraphUser,
    mark: InstallMark,
  ): Promise<Reached> {
    const tenantId = task.tenantId;
    const chatId = mark.chatId!;
    const serviceUrl =
      (await this.o.conversations.getTenant(tenantId))?.serviceUrl ?? this.o.defaultServiceUrl;
    const connector = this.o.connector;
    if (!connector.getConversationMembers) throw new Error('the Bot Connector cannot list members');
    const deadline = attempt.deadline;
    let answer: ConnectorResult<Array<Record<string, unknown>>>;
    try {
      answer = await this.o.limiter.schedule(
        tenantId,
        undefined,
        () =>
          connector.getConversationMembers!(serviceUrl, chatId, {
            timeoutMs:
              deadline && Math.max(1, Math.min(deadline.callTimeoutMs, deadline.hardAt - Date.now())),
          }),
        { deadline: deadline?.at },
      );
    } catch (err) {
      if (!(err instanceof DeadlinePassedError)) throw err;
      return this.act({ do: 'reschedule', reason: 'Deadline', delayMs: err.retryInMs }, task, attempt);
    }
    if (!answer.ok) {
      if (answer.status === 429) this.o.limiter.throttled(tenantId, answer.retryAfterMs ?? 1000, 429);
      if ([429, 412, 502, 503, 504].includes(answer.status))
        return this.act(
          {
            do: 'reschedule',
            reason: 'Throttled',
            delayMs: answer.retryAfterMs ?? backoffMs(task.reschedules),
          },
          task,
          attempt,
        );
      if (answer.status === 404) {
        // Graph named a chat the Bot Connector does not know (yet): ask Graph again next time.
        await this.o.marks.put(tenantId, { ...mark, chatId: '' });
        return this.act(
          { do: 'reschedule', reason: 'ChatNotReady', delayMs: INSTALL_PENDING_MS },
          task,
          attempt,
        );
      }
      const detail = `the Bot Connector answered ${answer.status} ${answer.code} listing the chat's members`;
      if (answer.status === 0 && answer.code !== 'Timeout' && answer.code !== 'NetworkError')
        return { outcome: { status: 'failed', reason: answer.code, detail } };
      return this.act(
        answer.status >= 400 && answer.status < 500 && answer.status !== 401
          ? { do: 'fail', reason: 'ChatMembersUnavailable', detail }
          : { do: 'retry', reason: 'ConnectorUnavailable', detail },
        task,
        attempt,
      );
    }
    const members = Array.isArray(answer.body) ? answer.body : [];
    const wanted = person.id.toLowerCase();
    const member =
      members.find((m) =>
        [m.aadObjectId, m.objectId].some((id) => typeof id === 'string' && id.toLowerCase() === wanted),
      ) ??
      (members.filter((m) => !isBotId(String(m.id))).length === 1
        ? members.find((m) => !isBotId(String(m.id)))
        : undefined);
    if (!member || typeof member.id !== 'string')
      return this.act(
        {
          do: 'retry',
          reason: 'ChatMembersUnavailable',
          detail: 'the chat Graph named does not list the user',
        },
        task,
        attempt,
      );
    const profile = {
      ...profileFromAccount(member as never, serviceUrl),
      aadObjectId: wanted,
      upn: upnOf(person) ?? profileFromAccount(member as never, serviceUrl).upn,
      name: person.displayName ?? undefined,
    };
    const now = new Date().toISOString();
    const change = profileChange(
      tenantId,
      profile,
      { source: 'personal', conversationId: chatId, reactivate: true },
      now,
    );
    // The notification that caused the install is their first message: no welcome after it.
    const { user } = await this.o.conversations.updateUser(tenantId, profile.userId, (current) => {
      const next = change(current) ?? current;
      if (!next || (next === current && next.welcomedAt)) return undefined;
      return { ...next, welcomedAt: next.welcomedAt ?? now, updatedAt: now };
    });
    if (!user) throw new Error('unreachable: no user stored');
    return { user };
  }

  /** A stored user with this object ID (another key named them, or Teams' installation activity stored them). */
  private async knownAs(tenantId: string, person: GraphUser): Promise<UserRecord | undefined> {
    return this.o.conversations.getUser(tenantId, { kind: 'aadObjectId', value: person.id.toLowerCase() });
  }

  private act(action: GraphAction, task: DeliveryTask, attempt: AttemptContext): Reached {
    if (action.do === 'fail')
      return { outcome: { status: 'failed', reason: action.reason, detail: action.detail } };
    if (action.do === 'reschedule') {
      if (Date.now() + action.delayMs > Date.parse(task.acceptedAt) + this.o.retryWindowMs) {
        return {
          outcome: {
            status: 'failed',
            reason: 'ThrottledTooLong',
            detail: `still ${action.reason} ${Math.round(this.o.retryWindowMs / 60_000)} minutes after the job was accepted (${task.reschedules} reschedules)`,
          },
        };
      }
      return { result: { kind: 'reschedule', delayMs: action.delayMs, reason: action.reason } };
    }
    // Attempts before this message count too (a batch hands a failing recipient back alone).
    const tries = attemptNumber(task, attempt);
    if (tries >= attempt.maxDequeueCount) {
      return {
        outcome: {
          status: 'failed',
          reason: action.reason,
          detail: `${action.detail} (after ${tries} attempts)`,
        },
      };
    }
    return { result: { kind: 'retry', reason: action.reason } };
  }
}

const upnOf = (person: GraphUser) => person.userPrincipalName?.toLowerCase() || undefined;
