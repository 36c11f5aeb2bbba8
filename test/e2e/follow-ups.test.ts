/**
 * Issue 14 end to end against Microsoft 365 Agents Playground (the `npm start` stack): a DM updated and
 * recalled, an acknowledgement press, and read receipts, sent and checked through the Playground's
 * own APIs and recording. Hand-made activities follow Microsoft's documented shapes:
 * - the `adaptiveCard/action` invoke of Universal Actions (value.action {type, verb, data}, trigger, replyToId):
 *   https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/work-with-universal-actions-for-adaptive-cards
 * - the read receipt event (type event, name application/vnd.microsoft.readReceipt, value.lastReadMessageId):
 *   https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/conversation-messages#receive-a-read-receipt
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobStatus } from '../../functions/getNotification/jobStatus.js';
import { ACK_VERB } from '../../shared/jobs/acknowledge.js';
import { enqueueNotification } from '../../shared/jobs/producer.js';
import type { NotificationJobInput } from '../../shared/jobs/contract.js';
import { storageConnection } from '../../scripts/sandbox/settings.js';
import type { Sandbox } from '../../scripts/sandbox/stack.js';
import { FROM_BOT, TO_BOT } from '../../scripts/sandbox/playground.js';
import { eventually } from '../support/app.js';
import { PLAYGROUND_DEFAULTS, type Playground } from '../support/playground.js';
import { startPlaygroundSandbox } from '../support/sandboxPorts.js';

const TENANT = PLAYGROUND_DEFAULTS.tenantId;
const ALEX = PLAYGROUND_DEFAULTS.currentUser;

describe('after the send, against Agents Playground', () => {
  let sandbox: Sandbox;
  let pg: Playground;
  let chat: string;

  beforeAll(async () => {
    ({ sandbox, pg } = await startPlaygroundSandbox());
    chat = await pg.installInPersonalChat();
    await eventually(async () => (await pg.messagesIn(chat)).length > 0, 15_000, 'the welcome message');
  });
  afterAll(async () => {
    await sandbox?.stop();
  });

  const api = (method: string, jobId: string, body?: unknown) =>
    fetch(`${sandbox.app.url}/api/notifications/${encodeURIComponent(jobId)}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  const jobStatus = async (jobId: string) => (await (await api('GET', jobId)).json()) as JobStatus;

  async function send(job: Partial<NotificationJobInput>): Promise<{ jobId: string; activityId: string }> {
    const { jobId } = await enqueueNotification(
      { tenantId: TENANT, recipients: [{ upn: ALEX.userPrincipleName }], message: { text: 'x' }, ...job },
      { connection: storageConnection(sandbox.ports) },
    );
    const s = await eventually(
      async () => {
        const x = await jobStatus(jobId);
        return x.complete ? x : undefined;
      },
      20_000,
      `job ${jobId} to settle`,
    );
    expect(s.recipients[0]).toMatchObject({ status: 'sent' });
    return { jobId, activityId: s.recipients[0]!.activityId! };
  }

  /** Connector calls the bot made on one message (PUT and DELETE are recorded as `message`). */
  const callsOn = async (activityId: string, method: string) =>
    (await pg.events()).filter(
      (e) =>
        e.direction === FROM_BOT &&
        e.request.method === method &&
        decodeURIComponent(e.request.url).endsWith(`/activities/${activityId}`),
    );

  async function invoke(activityId: string, jobId: string, from = ALEX) {
    const base = await pg.customActivityTemplate(chat);
    const id = `press-${Math.random().toString(36).slice(2)}`;
    await pg.sendCustomActivity({
      ...base,
      id,
      type: 'invoke',
      name: 'adaptiveCard/action',
      replyToId: activityId,
      from: { id: from.id, name: from.name, aadObjectId: from.aadObjectId },
      value: { action: { type: 'Action.Execute', verb: ACK_VERB, data: { jobId } }, trigger: 'manual' },
    });
    const answered = await pg.waitForEvent(
      (e) => e.direction === TO_BOT && (e.request.body as { id?: string }).id === id,
      {
        timeoutMs: 15_000,
      },
    );
    return answered.response.body as { statusCode: number; type: string; value: unknown };
  }

  it('a DM with an acknowledgement button is updated, pressed, then recalled', async () => {
    const { jobId, activityId } = await send({
      message: { text: 'Policy v1' },
      acknowledge: { title: 'I have read it' },
    });
    const sent = (await pg.messagesIn(chat)).find((m) => JSON.stringify(m).includes('Policy v1'));
    expect(JSON.stringify(sent)).toContain('I have read it');

    const patched = await api('PATCH', jobId, { message: { text: 'Policy v2' } });
    expect(patched.status).toBe(202);
    const [put] = await eventually(
      async () => {
        const puts = await callsOn(activityId, 'PUT');
        return puts.length ? puts : undefined;
      },
      20_000,
      'the PUT of the message',
    );
    expect(put!.response.statusCode).toBe(200);
    expect(JSON.stringify(put!.request.body)).toContain('Policy v2');
    expect(JSON.stringify(put!.request.body)).toContain(ACK_VERB);
    await eventually(
      async () => (await jobStatus(jobId)).totals.updated === 1,
      10_000,
      'the update in the status',
    );

    // Only the recipient may acknowledge: Megan pressing Alex's card is refused, nothing recorded.
    const refused = await invoke(activityId, jobId, PLAYGROUND_DEFAULTS.users[0]!);
    expect(refused).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.activity.message' });
    expect((await jobStatus(jobId)).totals.acknowledged).toBe(0);

    const pressed = await invoke(activityId, jobId);
    expect(pressed).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.card.adaptive' });
    expect(JSON.stringify(pressed.value)).toContain('Policy v2');
    expect(JSON.stringify(pressed.value)).toContain('Acknowledged');
    expect(JSON.stringify(pressed.value)).not.toContain(ACK_VERB);
    const acked = await jobStatus(jobId);
    expect(acked.totals.acknowledged).toBe(1);
    const at = acked.recipients[0]!.acknowledgedAt;
    expect(at).toBeDefined();
    // Pressing again keeps the first time.
    await invoke(activityId, jobId);
    expect((await jobStatus(jobId)).recipients[0]!.acknowledgedAt).toBe(at);

    expect((await api('DELETE', jobId)).status).toBe(202);
    // The Playground records the DELETE but does not implement it (501 DeleteActivityAPINotImplemented,
    // docs/agents-playground-notes.md): the recall is recorded as failed for this copy, with that reason.
    const [del] = await eventually(
      async () => {
        const dels = await callsOn(activityId, 'DELETE');
        return dels.length ? dels : undefined;
      },
      20_000,
      'the DELETE of the message',
    );
    expect(del!.response.statusCode).toBe(501);
    const recalled = await eventually(
      async () => {
        const s = await jobStatus(jobId);
        return s.recipients[0]?.changeFailure ? s : undefined;
      },
      20_000,
      'the recall outcome',
    );
    expect(recalled.recalledAt).toBeDefined();
    expect(recalled.recipients[0]!.changeFailure).toMatchObject({
      op: 'recall',
      reason: 'DeleteActivityAPINotImplemented',
    });
    expect((await api('PATCH', jobId, { message: { text: 'v3' } })).status).toBe(409);
    const late = await invoke(activityId, jobId);
    expect(JSON.stringify(late.value)).toContain('recalled');
  });

  it('an invoke card action (no name) gets 200; the acknowledgement’s Action.Submit fallback records the press', async () => {
    // Microsoft's documented invoke card action (cards-actions "Example: Incoming invoke message"):
    // type invoke, no name, the button's value, replyToId.
    const invokeWithoutName = async (value: unknown, replyToId: string) => {
      const id = `invoke-${Math.random().toString(36).slice(2)}`;
      const { name: _name, ...base } = await pg.customActivityTemplate(chat);
      await pg.sendCustomActivity({ ...base, id, type: 'invoke', replyToId, value });
      // The recording holds an exchange only when the bot answered 2xx (a 501 never shows up here).
      return pg.waitForEvent((e) => e.direction === TO_BOT && (e.request.body as { id?: string }).id === id, {
        timeoutMs: 15_000,
      });
    };
    const { jobId, activityId } = await send({ message: { text: 'Fallback policy' }, acknowledge: true });
    const generic = await invokeWithoutName({ option: 'opt1' }, activityId);
    expect(generic.response.statusCode).toBe(200);
    expect((await jobStatus(jobId)).totals.acknowledged).toBe(0);

    // What a client without Action.Execute renders instead: the button's fallback, from the card as sent.
    type Action = {
      verb?: string;
      fallback?: { type: string; data: { msteams: { type: string; value: unknown } } };
    };
    const sent = (await pg.messagesIn(chat)).find((m) => m.id === activityId)!;
    const card = (sent.activity['attachments'] as Array<{ content: { actions: Action[] } }>)[0]!.content;
    const fallback = card.actions.find((a) => a.verb === ACK_VERB)!.fallback!;
    expect(fallback).toMatchObject({ type: 'Action.Submit', data: { msteams: { type: 'invoke' } } });
    const pressed = await invokeWithoutName(fallback.data.msteams.value, activityId);
    expect(pressed.response.statusCode).toBe(200);
    const acked = await jobStatus(jobId);
    expect(acked.totals.acknowledged).toBe(1);
    expect(acked.recipients[0]!.acknowledgedAt).toBeDefined();
  });

  it('a read receipt marks exactly the messages up to its watermark as read, once', async () => {
    const first = await send({ message: { text: 'Read me 1' } });
    const second = await send({ message: { text: 'Read me 2' } });
    const third = await send({ message: { text: 'Read me 3' } });
    // Playground message IDs are millisecond timestamps as in Teams.
    expect(Number(first.activityId)).toBeLessThan(Number(second.activityId));
    expect(Number(second.activityId)).toBeLessThan(Number(third.activityId));

    const receipt = async (lastReadMessageId: string) => {
      const base = await pg.customActivityTemplate(chat);
      const id = `receipt-${lastReadMessageId}-${Math.random().toString(36).slice(2)}`;
      await pg.sendCustomActivity({
        ...base,
        id,
        type: 'event',
        name: 'application/vnd.microsoft.readReceipt',
        value: { lastReadMessageId },
      });
      await pg.waitForEvent((e) => e.direction === TO_BOT && (e.request.body as { id?: string }).id === id, {
        timeoutMs: 15_000,
      });
    };
    await receipt(second.activityId);
    const [s1, s2, s3] = await Promise.all([first, second, third].map((j) => jobStatus(j.jobId)));
    expect(s1!.recipients[0]!.readAt).toBeDefined();
    expect(s2!.recipients[0]!.readAt).toBeDefined();
    expect(s3!.recipients[0]!.readAt).toBeUndefined();
    expect(s1!.totals.read).toBe(1);

    // A later receipt reads the third; the first two keep their first read time.
    await receipt(third.activityId);
    expect((await jobStatus(third.jobId)).recipients[0]!.readAt).toBeDefined();
    expect((await jobStatus(first.jobId)).recipients[0]!.readAt).toBe(s1!.recipients[0]!.readAt);
  });
});
