import { describe, expect, it } from 'vitest';
import { recordWithoutClaim } from '../shared/stores/deliveryRecords.js';
import { BOT_ID, FUNCTION_KEY, TENANT, eventually, type TestApp } from './support/app.js';
import { useAudienceApp } from './support/audienceApp.js';
import { enqueue, settled } from './support/pipeline.js';
import { ACK_VERB } from '../shared/jobs/acknowledge.js';
import { LazyTable } from '../shared/azureStorage/table.js';
import { TableDeliveryRecordStore } from '../shared/azureStorage/tableDeliveryRecordStore.js';
import { TableJobCounters } from '../shared/azureStorage/tableJobCounters.js';
import { batchesOf, taskOf } from '../shared/delivery/batch.js';
import type { NotificationJob } from '../shared/jobs/contract.js';
import { encodeMessage } from '../shared/queues.js';
import { adaptiveCardAction, PEOPLE, readReceipt } from './fixtures/teams.js';

/**
 * Issue 15: what becomes of an audience job's deliveries, against real Azurite, the local host and
 * the Teams-like connector: outcomes in pages, several recipients to a queue message (a failing one
 * does not hold back the others), and follow-ups totalled from its counters. Who an audience
 * reaches: audience-reach.test.ts.
 */

let app: TestApp;
const { people, runs, team, sends, statusOf } = useAudienceApp((started) => (app = started));

describe('status at scale', () => {
  it('lists one outcome kind page by page with a continuation token', async () => {
    const members = people(5);
    const teamId = '19:paged@thread.tacv2';
    await team(teamId, members);
    const { jobId } = await enqueue(app, {
      recipients: [{ teamId }, { upn: 'nobody@contoso.com' }],
      message: { text: 'Paged' },
    });
    await settled(app, jobId);
    const seen: string[] = [];
    let query = '?status=sent&pageSize=2';
    for (let pages = 0; pages < 10; pages++) {
      const page = await statusOf(jobId, query);
      expect(page.recipients.length).toBeLessThanOrEqual(2);
      expect(page.recipients.every((r) => r.status === 'sent')).toBe(true);
      seen.push(...page.recipients.map((r) => r.recipient));
      if (!page.continuationToken) break;
      query = `?status=sent&pageSize=2&continuationToken=${encodeURIComponent(page.continuationToken)}`;
    }
    expect(seen.sort()).toEqual(members.map((m) => `userId:${m}`).sort());
    const failed = await statusOf(jobId, '?status=failed');
    expect(failed.recipients).toEqual([
      expect.objectContaining({ recipient: 'upn:nobody@contoso.com', status: 'failed' }),
    ]);
    expect(failed.totals).toMatchObject({ recipients: 6, sent: 5, failed: 1, pending: 0 });
    const bad = await app.get(`notifications/${jobId}?status=bogus`, { 'x-functions-key': FUNCTION_KEY });
    expect(bad.status).toBe(400);
  });
});

describe('several recipients to a queue message', () => {
  it('retries only the one Teams keeps failing: the others of its message are sent once, it is recorded and counted failed', async () => {
    const members = people(4);
    const teamId = '19:batch-fault@thread.tacv2';
    await team(teamId, members);
    const failing = app.connector.conversationIdFor(TENANT, members[1]!, BOT_ID);
    app.connector.script(
      (r) => r.route === 'sendActivity' && r.conversationId === failing,
      { status: 500 },
      30,
    );
    const { jobId } = await enqueue(app, { recipients: [{ teamId }], message: { text: 'Batched' } });
    const done = await settled(app, jobId, 60_000);
    app.connector.script(() => false, { status: 500 }, 0);
    expect(sends(members)).toEqual([1, 0, 1, 1]);
    expect(done.totals).toMatchObject({ recipients: 4, sent: 3, failed: 1, pending: 0 });
    const failed = await statusOf(jobId, '?status=failed');
    expect(failed.recipients).toEqual([
      expect.objectContaining({ recipient: `userId:${members[1]}`, reason: 'InternalServerError' }),
    ]);
    expect(failed.recipients[0]?.detail).toMatch(/after 3 attempts; message moved to the poison queue/);
    // The batch handed the failing one back alone (docs/delivery.md): it alone reaches the poison
    // queue, whose function finds it recorded; the others' outcomes stand.
    await eventually(
      () =>
        app.logs.some((l) =>
          l.message.includes(`job ${jobId}: delivery recorded as failed (InternalServerError)`),
        ),
      15_000,
      'the poisoned delivery handled',
    );
    expect(app.logs.some((l) => l.message.includes(`job ${jobId}: a batch of`))).toBe(false);
    expect((await statusOf(jobId)).totals).toMatchObject({ sent: 3, failed: 1, pending: 0 });
  });

  it('records as failed, and counts, the recipients of a poisoned batch that have no outcome yet', async () => {
    const jobId = `poisoned-batch-${runs()}`;
    const job = { id: jobId, tenantId: TENANT, recipients: [], message: { text: 'x' } } as NotificationJob;
    const recipients = ['userId:29:pb-1', 'userId:29:pb-2', 'userId:29:pb-3'].map((recipient) => ({
      recipient,
    }));
    const [batch] = batchesOf({ ...taskOf(job, new Date().toISOString()), counted: true }, recipients);
    const conversations = new LazyTable(app.table('Conversations'));
    const records = new TableDeliveryRecordStore(conversations);
    // One of them finished before the batch failed (here skipped); the other two never recorded an outcome.
    await recordWithoutClaim(
      records,
      TENANT,
      jobId,
      'userId:29:pb-1',
      { status: 'skipped', reason: 'OptedOut' },
      { counted: true },
    );
    await app.queue('notification-deliveries-poison').sendMessage(encodeMessage(batch));
    await eventually(
      async () => (await records.listForJob(TENANT, jobId)).filter((r) => r.status === 'failed').length === 2,
      15_000,
      'the unfinished recipients recorded',
    );
    const listed = await records.listForJob(TENANT, jobId);
    expect(listed.map((r) => [r.recipient, r.status, r.reason]).sort()).toEqual([
      ['userId:29:pb-1', 'skipped', 'OptedOut'],
      ['userId:29:pb-2', 'failed', 'Poisoned'],
      ['userId:29:pb-3', 'failed', 'Poisoned'],
    ]);
    expect(await new TableJobCounters(conversations).totals(TENANT, jobId)).toMatchObject({
      skipped: 1,
      failed: 2,
      sent: 0,
    });
  });
});

describe('follow-ups of an audience job', () => {
  const api = (method: string, jobId: string, body?: unknown) =>
    fetch(`${app.url}/api/notifications/${encodeURIComponent(jobId)}`, {
      method,
      headers: { 'content-type': 'application/json', 'x-functions-key': FUNCTION_KEY },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  const totalsOf = async (jobId: string) => (await statusOf(jobId)).totals;

  it('totals reads, acknowledgements, updates and recalls from its counters, like a job naming its users', async () => {
    // Documented people (fixtures/teams.ts) as a team's members, so their activities are Teams' shapes.
    const [adele, grady] = [PEOPLE.adele, PEOPLE.grady];
    const teamId = '19:follow-ups@thread.tacv2';
    await team(teamId, [adele.id, grady.id]);
    const { jobId } = await enqueue(app, {
      recipients: [{ teamId }],
      message: { text: 'Policy v1' },
      acknowledge: { title: 'I have read it' },
    });
    await settled(app, jobId);
    const chatOf = (userId: string) => app.connector.conversationIdFor(TENANT, userId, BOT_ID);
    const sentIn = (chat: string) => app.connector.accepted.filter((a) => a.conversationId === chat).at(-1)!;

    // Adele reads the message, Grady presses its button.
    const read = readReceipt(app.connector.url, adele, chatOf(adele.id), sentIn(chatOf(adele.id)).activityId);
    expect((await app.post('messages', read)).status).toBe(200);
    const press = adaptiveCardAction(app.connector.url, grady, chatOf(grady.id), ACK_VERB);
    const pressed = await app.post('messages', {
      ...press,
      replyToId: sentIn(chatOf(grady.id)).activityId,
      value: { ...press.value, action: { ...press.value.action, data: { jobId } } },
    });
    expect(pressed.status).toBe(200);
    await eventually(
      async () => {
        const t = await totalsOf(jobId);
        return t.read === 1 && t.acknowledged === 1 ? t : undefined;
      },
      15_000,
      'the read and the acknowledgement in the totals',
    );

    expect((await api('PATCH', jobId, { message: { text: 'Policy v2' } })).status).toBe(202);
    await eventually(async () => (await totalsOf(jobId)).updated === 2, 15_000, 'both copies updated');
    expect((await api('DELETE', jobId)).status).toBe(202);
    const recalled = await eventually(
      async () => {
        const t = await totalsOf(jobId);
        return t.recalled === 2 ? t : undefined;
      },
      15_000,
      'both copies recalled',
    );
    // The counters agree with the records, which the status does not list whole.
    expect(recalled).toMatchObject({ recipients: 2, sent: 0, recalled: 2, read: 1, acknowledged: 1 });
    expect(recalled).toMatchObject({ updated: 2, pending: 0, changeFailed: 0 });
  });
});
