import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordWithoutClaim } from '../shared/stores/deliveryRecords.js';
import { BOT_ID, FUNCTION_KEY, TENANT, eventually, startApp, type TestApp } from './support/app.js';
import { seedMembers, seedUsers } from './support/audience.js';
import { FAST_QUEUES, enqueue, settled, status, store } from './support/pipeline.js';
import type { JobStatus } from '../functions/getNotification/jobStatus.js';
import { ACK_VERB } from '../shared/jobs/acknowledge.js';
import { LazyTable } from '../shared/azureStorage/table.js';
import { TableDeliveryRecordStore } from '../shared/azureStorage/tableDeliveryRecordStore.js';
import { TableJobCounters } from '../shared/azureStorage/tableJobCounters.js';
import { batchesOf, taskOf } from '../shared/delivery/batch.js';
import type { NotificationJob } from '../shared/jobs/contract.js';
import { encodeMessage } from '../shared/queues.js';
import { adaptiveCardAction, PEOPLE, readReceipt } from './fixtures/teams.js';

/**
 * Issue 15: audiences (a team, all users) against real Azurite, the local host and the Teams-like
 * connector: each person once, stale rosters read again, outcomes in pages, clear reasons.
 */

let app: TestApp;
let run = 0;

beforeAll(async () => {
  app = await startApp({ env: { ...FAST_QUEUES, AUDIENCE_PAGE_SIZE: '3', ROSTER_MAX_AGE_MINUTES: '60' } });
  await store(app).saveTenant({ tenantId: TENANT, serviceUrl: app.connector.url, botId: BOT_ID });
});
afterAll(async () => {
  await app?.stop();
});

/** A fresh set of users for one test, so the tests do not see each other's people. */
function people(n: number): string[] {
  run += 1;
  return Array.from({ length: n }, (_, i) => `29:aud-${run}-${i}`);
}

async function team(teamId: string, members: string[], o: { installed?: boolean; syncedAt?: string } = {}) {
  await seedUsers({
    connectionString: app.azurite.connectionString,
    tenantId: TENANT,
    serviceUrl: app.connector.url,
    userIds: members,
    source: `team:${teamId}`,
  });
  await seedMembers(app.azurite.connectionString, TENANT, teamId, members);
  await store(app).saveTeam({
    tenantId: TENANT,
    teamId,
    serviceUrl: app.connector.url,
    installed: o.installed ?? true,
    memberCount: members.length,
    rosterSyncedAt: o.syncedAt ?? new Date().toISOString(),
  });
}

/** How many messages each user's 1:1 chat received. */
function sends(userIds: string[]): number[] {
  return userIds.map((userId) => {
    const chat = app.connector.conversationIdFor(TENANT, userId, BOT_ID);
    return app.connector.accepted.filter((a) => a.conversationId === chat).length;
  });
}

const statusOf = async (jobId: string, query = ''): Promise<JobStatus> => {
  const res = await app.get(`notifications/${encodeURIComponent(jobId)}${query}`, {
    'x-functions-key': FUNCTION_KEY,
  });
  expect(res.status).toBe(200);
  return (await res.json()) as JobStatus;
};

describe('team audiences', () => {
  it('sends every member of two overlapping teams and a named user once; opted-out members are skipped', async () => {
    const [a1, a2, both, b1, optedOut, named] = people(6) as [string, string, string, string, string, string];
    await team('19:team-a@thread.tacv2', [a1, a2, both, optedOut]);
    await team('19:team-b@thread.tacv2', [both, b1]);
    await store(app).updateUser(TENANT, optedOut, (u) => u && { ...u, optedOut: true });
    await seedUsers({
      connectionString: app.azurite.connectionString,
      tenantId: TENANT,
      serviceUrl: app.connector.url,
      userIds: [named],
      source: 'personal',
    });
    const { jobId } = await enqueue(app, {
      recipients: [
        { teamId: '19:team-a@thread.tacv2' },
        { teamId: '19:team-b@thread.tacv2' },
        { userId: named },
        { userId: a1 },
      ],
      message: { text: 'All hands at 3' },
    });
    const done = await settled(app, jobId);
    expect(sends([a1, a2, both, b1, named])).toEqual([1, 1, 1, 1, 1]);
    expect(sends([optedOut])).toEqual([0]);
    expect(done.totals).toEqual({
      recipients: 6,
      sent: 5,
      failed: 0,
      skipped: 1,
      pending: 0,
      ...{ recalled: 0, cancelled: 0, read: 0, acknowledged: 0, updated: 0, changeFailed: 0 },
    });
    expect(done.expansion).toMatchObject({
      state: 'done',
      expanded: 6,
      progress: expect.stringMatching(/^expanded 6 of about \d+$/),
    });
  });

  it('reads a stale roster from Teams again: a member who left is not sent to, a new one is', async () => {
    const [stays, left, joined] = people(3) as [string, string, string];
    const teamId = '19:stale@thread.tacv2';
    await team(teamId, [stays, left], { syncedAt: new Date(Date.now() - 3 * 3600_000).toISOString() });
    // The roster as Teams answers it now (get-teams-context, "Fetch the roster"): `left` is gone.
    app.connector.setRoster(teamId, [
      {
        id: stays,
        name: 'Stays',
        objectId: '00000000-0000-0000-0000-00000000a001',
        userPrincipalName: 'stays@contoso.com',
        tenantId: TENANT,
        userRole: 'user',
      },
      {
        id: joined,
        name: 'Joined',
        objectId: '00000000-0000-0000-0000-00000000a002',
        userPrincipalName: 'joined@contoso.com',
        tenantId: TENANT,
        userRole: 'user',
      },
    ]);
    const { jobId } = await enqueue(app, { recipients: [{ teamId }], message: { text: 'Team news' } });
    const done = await settled(app, jobId);
    expect(sends([stays, joined, left])).toEqual([1, 1, 0]);
    expect(done.totals).toMatchObject({ recipients: 2, sent: 2 });
    const gone = await store(app).getUserById(TENANT, left);
    expect(gone?.inactiveReason).toBe('RemovedFromTeam');
    expect((await store(app).getTeam(TENANT, teamId))?.memberCount).toBe(2);
  });
});

describe('all users', () => {
  it('reaches every active user the bot knows in the tenant once, and no inactive one', async () => {
    const active = people(7);
    const inactive = people(2);
    await seedUsers({
      connectionString: app.azurite.connectionString,
      tenantId: TENANT,
      serviceUrl: app.connector.url,
      userIds: active,
      source: 'personal',
    });
    await seedUsers({
      connectionString: app.azurite.connectionString,
      tenantId: TENANT,
      serviceUrl: app.connector.url,
      userIds: inactive,
      source: 'personal',
      inactive: true,
    });
    const before = app.connector.accepted.length;
    const { jobId } = await enqueue(app, {
      recipients: [{ allUsers: true }, { userId: active[0]! }],
      message: { text: 'Company update' },
    });
    const done = await settled(app, jobId, 30_000);
    expect(sends(active)).toEqual(active.map(() => 1));
    expect(sends(inactive)).toEqual([0, 0]);
    // Everyone active in the tenant (other tests' users too), each once.
    expect(app.connector.accepted.length - before).toBe(done.totals.sent);
    expect(done.totals.pending).toBe(0);
    expect(done.totals.recipients).toBe(done.totals.sent + done.totals.skipped + done.totals.failed);
  });
});

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
    const jobId = `poisoned-batch-${run}`;
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

describe('bad audiences', () => {
  it('gives an unknown team, a team without the bot and an empty audience a clear reason, and sends nothing', async () => {
    await store(app).saveTeam({
      tenantId: TENANT,
      teamId: '19:gone@thread.tacv2',
      serviceUrl: app.connector.url,
      installed: false,
      memberCount: 0,
    });
    await store(app).saveTeam({
      tenantId: TENANT,
      teamId: '19:empty@thread.tacv2',
      serviceUrl: app.connector.url,
      installed: true,
      memberCount: 0,
      rosterSyncedAt: new Date().toISOString(),
    });
    const cases = [
      ['19:never-seen@thread.tacv2', 'UnknownTeam', /not known to the bot/],
      ['19:gone@thread.tacv2', 'TeamNotInstalled', /not installed/],
      ['19:empty@thread.tacv2', 'EmptyAudience', /no active user/],
    ] as const;
    const before = app.connector.accepted.length;
    for (const [teamId, reason, text] of cases) {
      const { jobId } = await enqueue(app, { recipients: [{ teamId }], message: { text: 'x' } });
      const s = await eventually(
        async () => {
          const st = await status(app, jobId);
          // The reason is set on the job first, then written to RejectedJobs.
          return st?.expansion?.state === 'failed' && st.lastRejection ? st : undefined;
        },
        15_000,
        `${reason} to show`,
      );
      expect(s.expansion).toMatchObject({ reason, errors: [expect.stringMatching(text)] });
      expect(s.lastRejection).toMatchObject({ reason });
      expect(s.complete).toBe(true);
    }
    expect(app.connector.accepted.length).toBe(before);
  });

  it('accepts an audience over HTTP and names it in the answer', async () => {
    const res = await app.post(
      'notifications',
      {
        tenantId: TENANT,
        recipients: [{ teamId: '19:never-seen@thread.tacv2' }, { upn: 'x@contoso.com' }],
        message: { text: 'x' },
      },
      { 'x-functions-key': FUNCTION_KEY },
    );
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({
      recipients: 1,
      audience: { teams: ['19:never-seen@thread.tacv2'], allUsers: false },
    });
  });

  it('refuses more than 25 teams in one job over HTTP with what is wrong', async () => {
    const res = await app.post(
      'notifications',
      {
        tenantId: TENANT,
        recipients: Array.from({ length: 26 }, (_, i) => ({ teamId: `19:t${i}@thread.tacv2` })),
        message: { text: 'x' },
      },
      { 'x-functions-key': FUNCTION_KEY },
    );
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toMatch(/at most 25/);
  });
});
