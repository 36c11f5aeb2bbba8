import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DirectoryUser } from '../scripts/sandbox/fakeGraph/directory.js';
import { encodeMessage } from '../shared/queues.js';
import { personalInstall } from './support/activities.js';
import { BOT_ID, eventually, startApp, TENANT, type TestApp } from './support/app.js';
import {
  CATALOG_APP,
  graphEnv,
  person,
  startTestGraph,
  teamsIdOf,
  type TestGraph,
} from './support/fakeGraph.js';
import { enqueue, FAST_QUEUES, settled, store } from './support/pipeline.js';

/**
 * Issue 23: people the bot never met, named by UPN or AAD object ID, reached through Microsoft Graph
 * (a fake built from Microsoft's documented answers: scripts/sandbox/fakeGraph/). On 06d3f9d every
 * delivery here fails with RecipientNotFound and nothing is installed.
 */

let graph: TestGraph;
let app: TestApp;
const [newHire, repeat, already, crashed, twice, keys, announced, late, self] = [
  1, 2, 3, 4, 5, 6, 7, 8, 9,
].map(() => person()) as [
  DirectoryUser,
  DirectoryUser,
  DirectoryUser,
  DirectoryUser,
  DirectoryUser,
  DirectoryUser,
  DirectoryUser,
  DirectoryUser,
  DirectoryUser,
];
const people = [newHire, repeat, already, crashed, twice, keys, announced, late, self];

beforeAll(async () => {
  graph = await startTestGraph({
    users: people,
    installed: { [already.id]: [CATALOG_APP.id] },
    announce: true,
  });
  app = await startApp({ env: { ...FAST_QUEUES, ...graphEnv(graph) } });
  graph.attach(app);
});
afterAll(async () => {
  await app?.stop();
  await graph?.stop();
});

const chatOf = (user: DirectoryUser) => `19:${user.id}_${CATALOG_APP.id}@unq.gbl.spaces`;
/** Messages accepted in any chat with this user (Graph's chat ID, or the a:... ID of Teams' activities). */
const messagesTo = (user: DirectoryUser) =>
  app.connector.accepted.filter(
    (a) =>
      a.conversationId === chatOf(user) ||
      a.conversationId === app.connector.conversationIdFor(TENANT, teamsIdOf(user), BOT_ID),
  );
const texts = (user: DirectoryUser) =>
  messagesTo(user).map((a) => String((a.body as { text?: string }).text));
const callsFor = (user: DirectoryUser) =>
  graph.requests.filter(
    (r) => r.path.includes(user.id) || r.path.includes(encodeURIComponent(user.userPrincipalName)),
  );
const usersWith = async (user: DirectoryUser) =>
  (await store(app).listUsers(TENANT, 10_000)).filter((u) => u.aadObjectId === user.id.toLowerCase());

describe('a recipient the bot never met', () => {
  it('is found in Graph, gets the app installed, is stored as a personal install, and gets one DM', async () => {
    const { jobId } = await enqueue(app, {
      recipients: [{ upn: newHire.userPrincipalName }],
      message: { text: 'Welcome' },
    });
    expect((await settled(app, jobId)).recipients[0]).toMatchObject({ status: 'sent' });
    expect(graph.directory.isInstalled(newHire.id, CATALOG_APP.id)).toBe(true);
    expect(texts(newHire)).toEqual(['Welcome']);
    const user = await store(app).getUser(TENANT, { kind: 'upn', value: newHire.userPrincipalName });
    expect(user).toMatchObject({
      userId: teamsIdOf(newHire),
      aadObjectId: newHire.id,
      sources: ['personal'],
    });
    expect(user?.welcomedAt).toBeTruthy();
    expect(
      callsFor(newHire)
        .map((r) => `${r.route} ${r.status}`)
        .slice(0, 4),
    ).toEqual(['getUser 200', 'installApp 201', 'listInstalledApps 200', 'getChat 200']);
  });

  it('is a known user from then on: the next job calls Graph no more', async () => {
    const first = await enqueue(app, { recipients: [{ aadObjectId: repeat.id }], message: { text: 'one' } });
    await settled(app, first.jobId);
    const before = callsFor(repeat).length;
    const second = await enqueue(app, {
      recipients: [{ upn: repeat.userPrincipalName }],
      message: { text: 'two' },
    });
    expect((await settled(app, second.jobId)).recipients[0]).toMatchObject({ status: 'sent' });
    expect(callsFor(repeat)).toHaveLength(before);
    expect(texts(repeat)).toEqual(['one', 'two']);
  });

  it('already has the app (Graph answers 409): the installation chat is used, one DM', async () => {
    const { jobId } = await enqueue(app, {
      recipients: [{ upn: already.userPrincipalName }],
      message: { text: 'hi' },
    });
    expect((await settled(app, jobId)).recipients[0]).toMatchObject({ status: 'sent' });
    expect(callsFor(already).map((r) => `${r.route} ${r.status}`)).toContain('installApp 409');
    expect(texts(already)).toEqual(['hi']);
  });
});

describe('exactly once', () => {
  it('an install that succeeded but whose chat was not stored: the retry sends once', async () => {
    // The chat read fails until the queue gives up on the first attempts' in-process retries.
    graph.fault({
      route: (r) => r.route === 'getChat' && r.path.includes(crashed.id),
      reply: { status: 500, body: { error: { code: 'generalException', message: 'x' } } },
      times: 1,
    });
    const { jobId } = await enqueue(app, {
      recipients: [{ upn: crashed.userPrincipalName }],
      message: { text: 'after a crash' },
    });
    expect((await settled(app, jobId, 30_000)).recipients[0]).toMatchObject({ status: 'sent' });
    const routes = callsFor(crashed).map((r) => `${r.route} ${r.status}`);
    expect(routes.filter((r) => r === 'installApp 201')).toHaveLength(1);
    expect(routes).toContain('getChat 500');
    expect(texts(crashed)).toEqual(['after a crash']);
  });

  it('two instances with the same delivery: one message, one installation', async () => {
    const job = {
      id: `graph-twice-${Date.now()}`,
      recipients: [{ aadObjectId: twice.id }],
      message: { text: 'once' },
    };
    await enqueue(app, job);
    const task = {
      v: 1,
      jobId: job.id,
      tenantId: TENANT,
      recipient: `aadObjectId:${twice.id}`,
      message: job.message,
      acceptedAt: new Date().toISOString(),
      reschedules: 0,
    };
    const deliveries = app.queue('notification-deliveries');
    await Promise.all([
      deliveries.sendMessage(encodeMessage(task)),
      deliveries.sendMessage(encodeMessage(task)),
    ]);
    await settled(app, job.id, 30_000);
    await new Promise((r) => setTimeout(r, 1500)); // every copy processed
    expect(texts(twice)).toEqual(['once']);
    expect(callsFor(twice).filter((r) => r.route === 'installApp' && r.status === 201)).toHaveLength(1);
    expect(await usersWith(twice)).toHaveLength(1);
  });

  it('one person named by UPN and by object ID: one DM, the other key DuplicateRecipient', async () => {
    const { jobId } = await enqueue(app, {
      recipients: [{ upn: keys.userPrincipalName }, { aadObjectId: keys.id }],
      message: { text: 'one of two keys' },
    });
    const s = await settled(app, jobId, 30_000);
    expect(s.recipients.map((r) => r.status).sort()).toEqual(['sent', 'skipped']);
    expect(s.recipients.find((r) => r.status === 'skipped')).toMatchObject({ reason: 'DuplicateRecipient' });
    expect(texts(keys)).toEqual(['one of two keys']);
  });
});

describe("Teams' installation activity and the welcome", () => {
  it('the activity the install causes: no welcome, the notification is the first and only message', async () => {
    const { jobId } = await enqueue(app, {
      recipients: [{ upn: announced.userPrincipalName }],
      message: { text: 'Your laptop is ready' },
    });
    expect((await settled(app, jobId)).recipients[0]).toMatchObject({ status: 'sent' });
    await eventually(
      () => graph.announced.some((a) => (a.from as { aadObjectId?: string }).aadObjectId === announced.id),
      10_000,
      'the installation activity',
    );
    await eventually(
      () => app.logs.some((l) => /by the app through Microsoft Graph: no welcome/.test(l.message)),
      10_000,
      'the bot to handle it',
    );
    await new Promise((r) => setTimeout(r, 500)); // and the second activity
    expect(texts(announced)).toEqual(['Your laptop is ready']);
    expect(await usersWith(announced)).toHaveLength(1);
  });

  it('an installation activity that comes after the DM welcomes no one either', async () => {
    const { jobId } = await enqueue(app, {
      recipients: [{ upn: late.userPrincipalName }],
      message: { text: 'first' },
    });
    await settled(app, jobId);
    const chat = app.connector.conversationIdFor(TENANT, teamsIdOf(late), BOT_ID);
    app.connector.registerConversation(chat, {
      tenantId: TENANT,
      members: [{ id: teamsIdOf(late), objectId: late.id }],
    });
    expect(
      (
        await app.post(
          'messages',
          personalInstall(app.connector.url, { id: teamsIdOf(late), aadObjectId: late.id }, chat),
        )
      ).status,
    ).toBe(200);
    expect(texts(late)).toEqual(['first']);
  });

  it('a user who installs the bot themselves is still welcomed (control)', async () => {
    const chat = app.connector.conversationIdFor(TENANT, teamsIdOf(self), BOT_ID);
    app.connector.registerConversation(chat, {
      tenantId: TENANT,
      members: [{ id: teamsIdOf(self), objectId: self.id }],
    });
    await app.post(
      'messages',
      personalInstall(app.connector.url, { id: teamsIdOf(self), aadObjectId: self.id }, chat),
    );
    expect(texts(self)).toHaveLength(1);
    expect(texts(self)[0]).toMatch(/Teams Notifier/);
  });
});
