import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobStatus } from '../functions/getNotification/jobStatus.js';
import { batchesOf, taskOf } from '../shared/delivery/batch.js';
import { validateJob } from '../shared/jobs/contract.js';
import { BULK_ABOVE_RECIPIENTS, URGENT_MAX_RECIPIENTS } from '../shared/jobs/priority.js';
import { recipientKeyString } from '../shared/jobs/recipient.js';
import { encodeMessage, LANE_QUEUES, poisonQueueOf } from '../shared/queues.js';
import { createStorageObjects } from '../scripts/sandbox/storageObjects.js';
import { BOT_ID, FUNCTION_KEY, ROOT, TENANT, eventually, startApp, type TestApp } from './support/app.js';
import { seedUsers } from './support/audience.js';
import { startAzurite } from './support/azurite.js';
import { FAST_QUEUES, seedUser, settled, status, store } from './support/pipeline.js';

/**
 * Issue 24, end to end: priority lanes on the built app (local host, real Azurite) with the Teams-like
 * connector enforcing Teams' limits. An urgent job posted while a broadcast drains reaches Teams long
 * before the broadcast's last deliveries, from its own queue, with the alert Microsoft documents;
 * the status and `npm run status` show lanes and waits; the defaults and refusals a producer meets;
 * each lane's poison queue has its function; the sandbox makes every lane's queues.
 */

const run = promisify(execFile);
const KEY = { 'x-functions-key': FUNCTION_KEY };
let app: TestApp;
let n = 0;
const jobId = (what: string) => `lanes-${what}-${Date.now().toString(36)}-${++n}`;

beforeAll(async () => {
  app = await startApp({
    // The tenant's budget at 20 calls a second, so a broadcast of 101 first contacts takes ~10 s.
    env: { ...FAST_QUEUES, TENANT_RATE_PER_SECOND: '20' },
    connector: { rateLimits: {} },
  });
  await store(app).saveTenant({ tenantId: TENANT, serviceUrl: app.connector.url, botId: BOT_ID });
});
afterAll(async () => {
  await app?.stop();
});

async function post(job: Record<string, unknown>) {
  const res = await app.post('notifications', { tenantId: TENANT, ...job }, KEY);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { errors?: string[] } };
}

const chatOf = (userId: string) => app.connector.conversationIdFor(TENANT, userId, BOT_ID);
/** Where in Teams' order of accepted messages each chat got its (first) message. */
const positionIn = (chat: string) => app.connector.accepted.findIndex((a) => a.conversationId === chat);
/** The function that delivered a job, by the log line the deliveries function writes for it. */
const deliveredBy = (id: string) =>
  app.logs.find((l) => l.message.startsWith(`job ${id}: delivery sent`))?.functionName;
/** The function the app registers on a queue. */
const listenerOf = (queue: string) => app.host.functions.find((f) => f.queueName === queue)?.name;

describe('an urgent job never waits behind a broadcast', () => {
  let ids: { bulk: string; urgent: string; normal: string };
  let crowd: string[];

  it('is delivered from its own queue while the broadcast is still queued; only it alerts the person', async () => {
    crowd = Array.from({ length: BULK_ABOVE_RECIPIENTS + 1 }, (_, i) => `29:lanes-crowd-${i}`);
    await seedUsers({
      connectionString: app.azurite.connectionString,
      tenantId: TENANT,
      serviceUrl: app.connector.url,
      userIds: crowd,
      source: 'team:seed',
    });
    const [pager, watcher] = [await seedUser(app), await seedUser(app)];
    ids = { bulk: jobId('broadcast'), urgent: jobId('page'), normal: jobId('build') };
    // No priority: more than 100 people named makes it a broadcast, in the bulk lane.
    const bulk = await post({
      id: ids.bulk,
      recipients: crowd.map((userId) => ({ userId })),
      message: { text: 'All-hands at 3' },
    });
    expect(bulk).toMatchObject({ status: 202, body: { priority: 'bulk' } });
    const crowdChats = new Set(crowd.map(chatOf));
    const broadcastSent = () => app.connector.accepted.filter((a) => crowdChats.has(a.conversationId));
    await eventually(() => broadcastSent().length >= 10, 30_000, 'the broadcast to be draining');

    const urgent = await post({
      id: ids.urgent,
      priority: 'urgent',
      recipients: [{ upn: pager.upn }],
      message: { text: 'Sev 1: checkout is down' },
    });
    const normal = await post({
      id: ids.normal,
      recipients: [{ upn: watcher.upn }],
      message: { text: 'Build green' },
    });
    expect(urgent).toMatchObject({ status: 202, body: { priority: 'urgent' } });
    expect(normal).toMatchObject({ status: 202, body: { priority: 'normal' } });
    await settled(app, ids.urgent);
    await settled(app, ids.normal);

    // The broadcast finishes too: every member once.
    const done = await settled(app, ids.bulk, 90_000);
    expect(done.totals).toMatchObject({ recipients: crowd.length, sent: crowd.length, failed: 0 });
    expect(
      crowd.map((u) => app.connector.accepted.filter((a) => a.conversationId === chatOf(u)).length),
    ).toEqual(crowd.map(() => 1));
    // Teams' order: a third of the broadcast and more came after the page (first in, first out
    // would have put all 101 before it), and after the normal job too.
    const pagePosition = positionIn(chatOf(pager.userId));
    const after = (position: number) =>
      broadcastSent().filter((a) => a.seq > app.connector.accepted[position]!.seq);
    expect(after(pagePosition).length).toBeGreaterThanOrEqual(Math.ceil(crowd.length / 3));
    expect(after(positionIn(chatOf(watcher.userId))).length).toBeGreaterThan(0);

    // Each lane's own function delivered it (the urgent one reads only the urgent queue).
    expect(deliveredBy(ids.urgent)).toBe(listenerOf(LANE_QUEUES.urgent));
    expect(deliveredBy(ids.normal)).toBe(listenerOf(LANE_QUEUES.normal));
    expect(deliveredBy(ids.bulk)).toBe(listenerOf(LANE_QUEUES.bulk));
    expect(new Set([LANE_QUEUES.urgent, LANE_QUEUES.normal, LANE_QUEUES.bulk].map(listenerOf)).size).toBe(3);

    // channelData.notification.alert (msteams-docs, msteams-platform/bots/how-to/conversations/
    // conversation-messages.md, "Notifications to your message") on the urgent message only.
    const page = app.connector.accepted[pagePosition]!.body;
    expect(page).toMatchObject({
      text: 'Sev 1: checkout is down',
      channelData: { notification: { alert: true } },
    });
    const alerting = app.connector.accepted.filter(
      (a) => (a.body.channelData as { notification?: { alert?: unknown } } | undefined)?.notification?.alert,
    );
    expect(alerting.map((a) => a.conversationId)).toEqual([chatOf(pager.userId)]);
  }, 150_000);

  it('shows the job’s lane and each delivery’s lane and wait in the status, and in npm run status', async () => {
    const check = (s: JobStatus, lane: string) => {
      expect(s.priority).toBe(lane);
      for (const r of s.recipients) {
        expect(r).toMatchObject({ status: 'sent', lane });
        // Waited from acceptance to Teams' answer: no less than nothing, no more than until its record.
        expect(r.waitMs).toBeGreaterThanOrEqual(0);
        expect(r.waitMs).toBeLessThanOrEqual(Date.parse(r.completedAt!) - Date.parse(s.acceptedAt));
      }
    };
    check((await status(app, ids.urgent))!, 'urgent');
    check((await status(app, ids.normal))!, 'normal');
    const bulk = (await status(app, ids.bulk))!;
    check(bulk, 'bulk');
    expect(bulk.recipients).toHaveLength(crowd.length);

    const cli = await run(process.execPath, [path.join(ROOT, 'dist/scripts/status.js'), ids.urgent], {
      cwd: ROOT,
      env: { ...process.env, AzureWebJobsStorage: app.azurite.connectionString, DEFAULT_TENANT_ID: TENANT },
    });
    expect(cli.stdout).toContain(`job ${ids.urgent} (tenant ${TENANT}, accepted `);
    expect(cli.stdout).toMatch(/, urgent lane\)\n/);
    expect(cli.stdout).toMatch(/ {2}sent {6}upn:\S+ {2}activity \S+, waited \d+\.\d s/);
  });
});

describe('what a producer meets', () => {
  const users = (count: number) => Array.from({ length: count }, (_, i) => ({ userId: `29:lanes-few-${i}` }));
  // Far ahead, so nothing of these jobs is sent while the file runs.
  const notBefore = () => new Date(Date.now() + 24 * 3600_000).toISOString();

  it('audience jobs and jobs naming more than 100 people default to bulk; the rest to normal', async () => {
    const team = await post({
      id: jobId('team'),
      recipients: [{ teamId: '19:lanes-team@thread.tacv2' }],
      message: { text: 'Team news' },
      notBefore: notBefore(),
    });
    const many = await post({
      id: jobId('many'),
      recipients: users(BULK_ABOVE_RECIPIENTS + 1),
      message: { text: 'Many' },
      notBefore: notBefore(),
    });
    const hundred = await post({
      id: jobId('hundred'),
      recipients: users(BULK_ABOVE_RECIPIENTS),
      message: { text: 'A hundred' },
      notBefore: notBefore(),
    });
    const asked = await post({
      id: jobId('asked'),
      priority: 'normal',
      recipients: users(BULK_ABOVE_RECIPIENTS + 1),
      message: { text: 'Asked for normal' },
      notBefore: notBefore(),
    });
    const expected = [
      [team, 'bulk'],
      [many, 'bulk'],
      [hundred, 'normal'],
      [asked, 'normal'],
    ] as const;
    for (const [answer, lane] of expected) {
      expect(answer).toMatchObject({ status: 202, body: { priority: lane } });
      expect((await status(app, answer.body.jobId as string))?.priority).toBe(lane);
    }
  });

  it('refuses urgent for an audience or more than 50 people, and an unknown priority, with a 400 naming /priority', async () => {
    const refused = [
      await post({
        priority: 'urgent',
        recipients: [{ teamId: '19:lanes-team@thread.tacv2' }],
        message: { text: 'x' },
      }),
      await post({
        priority: 'urgent',
        recipients: users(URGENT_MAX_RECIPIENTS + 1),
        message: { text: 'x' },
      }),
      await post({ priority: 'high', recipients: users(1), message: { text: 'x' } }),
    ];
    for (const answer of refused) {
      expect(answer).toMatchObject({ status: 400, body: { error: 'SchemaInvalid' } });
      expect(answer.body.errors?.[0]).toMatch(/^\/priority: /);
    }
    expect(refused[1]!.body.errors?.[0]).toContain(`at most ${URGENT_MAX_RECIPIENTS} recipients`);
    // Urgent is for people named one by one: 50 of them are accepted.
    const fifty = await post({
      priority: 'urgent',
      recipients: users(URGENT_MAX_RECIPIENTS),
      message: { text: 'x' },
      notBefore: notBefore(),
    });
    expect(fifty).toMatchObject({ status: 202, body: { priority: 'urgent' } });
  });

  it('npm run notify takes --priority, and refuses an unknown one naming /priority', async () => {
    const notify = (...args: string[]) =>
      run(process.execPath, [path.join(ROOT, 'dist/scripts/notify.js'), ...args], {
        cwd: ROOT,
        env: { ...process.env, AzureWebJobsStorage: app.azurite.connectionString, DEFAULT_TENANT_ID: TENANT },
      }).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const base = ['--to', 'oncall@contoso.com', '--text', 'Sev 2', '--not-before', notBefore()];
    const sent = await notify(...base, '--priority', 'urgent');
    expect(sent).toMatchObject({ code: 0, stderr: '' });
    const id = sent.stdout.trim();
    expect((await eventually(() => status(app, id), 20_000, `job ${id} recorded`)).priority).toBe('urgent');
    const refused = await notify(...base, '--priority', 'asap');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/\/priority: must be equal to one of the allowed values/);
  });

  it('the JSON Schema the app serves in /api/openapi.json describes priority, and the answers’ lanes', async () => {
    const doc = (await (await fetch(`${app.url}/api/openapi.json`)).json()) as {
      components: {
        schemas: Record<string, { properties: Record<string, { enum?: string[]; description?: string }> }>;
      };
    };
    const { NotificationJob, JobStatus: statusSchema, Accepted } = doc.components.schemas;
    const priority = NotificationJob!.properties.priority!;
    expect(priority.enum?.sort()).toEqual(['bulk', 'normal', 'urgent']);
    expect(priority.description).toMatch(
      /Default: bulk for audiences and for jobs naming more than 100 people/,
    );
    expect(priority.description).toMatch(/at most 50 people/);
    expect(statusSchema!.properties.priority!.enum?.sort()).toEqual(['bulk', 'normal', 'urgent']);
    expect(Accepted!.properties.priority!.enum?.sort()).toEqual(['bulk', 'normal', 'urgent']);
    const recipient = (
      statusSchema!.properties.recipients as unknown as { items: { properties: Record<string, unknown> } }
    ).items.properties;
    expect(Object.keys(recipient)).toEqual(expect.arrayContaining(['lane', 'waitMs']));
  });
});

describe('each lane’s poison queue', () => {
  it.each(['urgent', 'bulk'] as const)(
    'has a function that records a poisoned %s delivery as failed',
    async (lane) => {
      const user = await seedUser(app);
      const input = {
        id: jobId(`poison-${lane}`),
        tenantId: TENANT,
        priority: lane,
        recipients: [{ upn: user.upn! }],
        message: { text: `poisoned ${lane}` },
        // Its own delivery waits, so the poisoned message is the only outcome it can get.
        notBefore: new Date(Date.now() + 3600_000).toISOString(),
      };
      expect((await post(input)).status).toBe(202);
      const accepted = (await status(app, input.id))!;
      const checked = validateJob(input);
      if (!checked.ok) throw new Error(checked.errors.join('; '));
      // What the host moves to `<queue>-poison` after the last attempt: the lane's own message.
      const [batch] = batchesOf(taskOf(checked.job, accepted.acceptedAt), [
        { recipient: recipientKeyString(checked.job.recipients[0]!) },
      ]);
      const poison = poisonQueueOf(LANE_QUEUES[lane]);
      await app.queue(poison).sendMessage(encodeMessage(batch));
      const s = await settled(app, input.id);
      expect(s.recipients[0]).toMatchObject({ status: 'failed', reason: 'Poisoned' });
      const line = await eventually(
        () => app.logs.find((l) => l.message.startsWith(`${poison}: job ${input.id}: a batch of 1`)),
        10_000,
        `the ${poison} function's log line`,
      );
      expect(line.functionName).toBe(listenerOf(poison));
    },
  );
});

describe('the sandbox', () => {
  it('makes every queue the app listens on, each lane’s queue and its poison queue among them', async () => {
    const fresh = await startAzurite();
    try {
      await createStorageObjects(fresh.connectionString);
      const made: string[] = [];
      for await (const q of QueueServiceClient.fromConnectionString(fresh.connectionString).listQueues())
        made.push(q.name);
      const listened = app.host.functions.flatMap((f) => (f.trigger === 'queue' ? [f.queueName!] : []));
      for (const queue of Object.values(LANE_QUEUES)) {
        expect(listened).toContain(queue);
        expect(listened).toContain(poisonQueueOf(queue));
      }
      expect(made).toEqual(expect.arrayContaining(listened));
    } finally {
      await fresh.stop();
    }
  });
});
