import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueNotification, JobValidationError } from '../shared/jobs/producer.js';
import { EventNames } from '../shared/telemetry/telemetry.js';
import { FUNCTION_KEY, ROOT, TENANT, eventually, startApp, type TestApp } from './support/app.js';
import { customEvents, startIngestion, type Ingestion } from './support/ingestion.js';
import { FAST_QUEUES, seedUser, sentTo, settled, status, store } from './support/pipeline.js';
import {
  CHANNEL_ID,
  PEOPLE,
  TEAM,
  actionSubmit,
  adaptiveCardAction,
  botAddedToTeam,
  channelCreated,
  channelMessageWithMentions,
  pagedMembersAnswer,
  personalMessage,
  readReceipt,
  teamInstallationUpdate,
  teamRenamed,
} from './fixtures/teams.js';

/**
 * Issue 10: what production sends. Jobs as other producers' SDKs write them, poison queues, the
 * roster and events as Microsoft documents them, card buttons, cards checked by the Adaptive Cards
 * SDK and rejections a producer can see. Real Azurite, the app in its own process (so its
 * Application Insights events reach a local ingestion endpoint), Microsoft-shaped fixtures.
 */

const run = promisify(execFile);
let app: TestApp;
let ingestion: Ingestion;
const KEY = { 'x-functions-key': FUNCTION_KEY };
const PYTHON = '/usr/bin/python3';
const pythonSdk = spawnSync(PYTHON, ['-c', 'import azure.storage.queue'], { stdio: 'ignore' }).status === 0;
if (!pythonSdk) {
  console.warn(
    `The Python producer check is skipped: ${PYTHON} cannot import azure.storage.queue (apt-get install python3-azure; .ci/run does).`,
  );
}

let n = 0;
const jobId = (what: string) => `prod-${what}-${Date.now().toString(36)}-${++n}`;
const jobsQueue = () => new QueueClient(app.azurite.connectionString, 'notification-jobs');
const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const cli = (script: string, args: string[]) =>
  run(process.execPath, [path.join(ROOT, 'dist/scripts', script), ...args], {
    cwd: ROOT,
    env: { ...process.env, AzureWebJobsStorage: app.azurite.connectionString, DEFAULT_TENANT_ID: TENANT },
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );

async function rejectedRows(): Promise<Array<Record<string, unknown>>> {
  const rows: Array<Record<string, unknown>> = [];
  for await (const row of app.table('RejectedJobs').listEntities<Record<string, unknown>>()) rows.push(row);
  return rows.filter((r) => r.partitionKey !== 'byJob');
}
const rejectedBy = (field: string, value: string) =>
  eventually(
    async () => (await rejectedRows()).find((r) => r[field] === value),
    20_000,
    `RejectedJobs ${value}`,
  );

beforeAll(async () => {
  ingestion = await startIngestion();
  app = await startApp({
    childProcess: true,
    env: {
      ...FAST_QUEUES,
      ALLOWED_TENANT_IDS: TENANT,
      APPLICATIONINSIGHTS_CONNECTION_STRING: ingestion.connectionString,
      NODE_EXTRA_CA_CERTS: ingestion.caFile,
      APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true',
      TELEMETRY_LIVE_METRICS: 'false',
    },
  });
});

afterAll(async () => {
  await app?.stop();
  await ingestion?.stop();
});

describe('1. every producer encoding', () => {
  it("delivers a plain-JSON job from @azure/storage-queue's default sendMessage", async () => {
    const user = await seedUser(app);
    const id = jobId('js');
    // The SDK's default: the text goes on the queue as it is, no base64.
    await jobsQueue().sendMessage(
      JSON.stringify({ id, tenantId: TENANT, recipients: [{ upn: user.upn }], message: { text: 'from JS' } }),
    );
    expect((await settled(app, id)).totals).toMatchObject({ sent: 1, failed: 0 });
  });

  it.runIf(pythonSdk)(
    "delivers a job from Python's azure-storage-queue with its default encoding",
    async () => {
      const user = await seedUser(app);
      const id = jobId('py');
      const job = { id, tenantId: TENANT, recipients: [{ upn: user.upn }], message: { text: 'from Python' } };
      const script = [
        'import json, os',
        'from azure.storage.queue import QueueClient',
        'q = QueueClient.from_connection_string(os.environ["CONN"], "notification-jobs")',
        'q.send_message(json.dumps(json.loads(os.environ["JOB"])))',
      ].join('\n');
      const py = spawnSync(PYTHON, ['-c', script], {
        env: { CONN: app.azurite.connectionString, JOB: JSON.stringify(job), PATH: process.env.PATH ?? '' },
        encoding: 'utf8',
      });
      expect(py.stderr).toBe('');
      expect(py.status).toBe(0);
      expect((await settled(app, id)).totals).toMatchObject({ sent: 1, failed: 0 });
    },
  );

  it('reads a job with a UTF-8 BOM at every entry point: queue (plain and base64), HTTP, CLI and client', async () => {
    const user = await seedUser(app);
    const job = (id: string) =>
      JSON.stringify({
        id,
        tenantId: TENANT,
        recipients: [{ upn: user.upn }],
        message: { text: `BOM ${id}` },
      });
    const ids = {
      queuePlain: jobId('bom-q'),
      queueBase64: jobId('bom-q64'),
      http: jobId('bom-http'),
      cli: jobId('bom-cli'),
      client: jobId('bom-client'),
    };
    await jobsQueue().sendMessage(`\uFEFF${job(ids.queuePlain)}`);
    await jobsQueue().sendMessage(base64(`\uFEFF${job(ids.queueBase64)}`));

    const posted = await app.post('notifications', `\uFEFF${job(ids.http)}`, KEY);
    expect(posted.status).toBe(202);

    const file = path.join(tmpdir(), `job-bom-${process.pid}.json`);
    writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(job(ids.cli))]));
    const notify = await cli('notify.js', ['--job', file]);
    expect(notify.stderr).toBe('');
    expect(notify.stdout.trim()).toBe(ids.cli);

    expect(
      await enqueueNotification(`\uFEFF${job(ids.client)}`, { connection: app.azurite.connectionString }),
    ).toEqual({ jobId: ids.client, tenantId: TENANT });

    for (const id of Object.values(ids)) expect((await settled(app, id)).totals.sent, id).toBe(1);
  });

  it('sets an unreadable message aside in RejectedJobs with its reason (never only a log line)', async () => {
    const { messageId } = await jobsQueue().sendMessage('this is neither JSON nor base64!');
    const row = await rejectedBy('queueMessageId', messageId);
    expect(row).toMatchObject({
      reason: 'InvalidJson',
      source: 'queue',
      body: 'this is neither JSON nor base64!',
    });
    expect(String(row.errors)).toMatch(/neither JSON nor base64/);
  });
});

describe('3. nothing lands in a poison queue unseen', () => {
  it('turns a message in notification-jobs-poison into a RejectedJobs record', async () => {
    const poison = new QueueClient(app.azurite.connectionString, 'notification-jobs-poison');
    await poison.createIfNotExists();
    const id = jobId('poisoned');
    const text = JSON.stringify({
      id,
      tenantId: TENANT,
      recipients: [{ upn: 'x@contoso.com' }],
      message: { text: 'x' },
    });
    const { messageId } = await poison.sendMessage(text);
    const row = await rejectedBy('queueMessageId', messageId);
    expect(row).toMatchObject({
      reason: 'Poisoned',
      source: 'notification-jobs-poison',
      jobId: id,
      body: text,
    });
    // And the producer sees it at the status URL.
    expect(await status(app, id)).toMatchObject({ jobId: id, rejected: true, reason: 'Poisoned' });
    await eventually(
      async () => ((await poison.getProperties()).approximateMessagesCount ?? 0) === 0,
      10_000,
    );
  });

  it('turns a delivery in notification-deliveries-poison into a failed delivery with the reason', async () => {
    const user = await seedUser(app);
    const id = jobId('dlv-poison');
    // A job whose delivery waits (notBefore), so the poisoned task is the only outcome it can get.
    const notBefore = new Date(Date.now() + 3600_000).toISOString();
    await enqueueNotification(
      { id, tenantId: TENANT, recipients: [{ upn: user.upn! }], message: { text: 'later' }, notBefore },
      { connection: app.azurite.connectionString },
    );
    await eventually(async () => (await status(app, id))?.totals.pending === 1, 20_000, 'job recorded');
    const poison = new QueueClient(app.azurite.connectionString, 'notification-deliveries-poison');
    await poison.createIfNotExists();
    const task = {
      v: 1,
      jobId: id,
      tenantId: TENANT,
      recipient: `upn:${user.upn!.toLowerCase()}`,
      message: { text: 'later' },
      acceptedAt: new Date().toISOString(),
      notBefore,
      reschedules: 0,
    };
    await poison.sendMessage(base64(JSON.stringify(task)));
    const s = await settled(app, id);
    expect(s.totals).toMatchObject({ failed: 1, pending: 0 });
    expect(s.recipients[0]).toMatchObject({ status: 'failed', reason: 'Poisoned' });
    expect(s.recipients[0]?.detail).toMatch(/every attempt/);
  });

  it('something that is not a delivery task in notification-deliveries-poison becomes a RejectedJobs record', async () => {
    const poison = new QueueClient(app.azurite.connectionString, 'notification-deliveries-poison');
    await poison.createIfNotExists();
    const { messageId } = await poison.sendMessage('{"hello":"world"}');
    expect(await rejectedBy('queueMessageId', messageId)).toMatchObject({
      reason: 'NotADeliveryTask',
      source: 'notification-deliveries-poison',
    });
  });

  it('the poison alert counts the event the app raises, every 5 minutes', () => {
    const template = JSON.parse(readFileSync(path.join(ROOT, 'docs/alerts/alerts.json'), 'utf8')) as {
      resources: Array<{ name: string; properties: Record<string, unknown> }>;
    };
    const rule = template.resources.find((r) => r.name.includes('poison'));
    expect(rule?.properties).toMatchObject({ enabled: true, evaluationFrequency: 'PT5M' });
    const criteria = (rule?.properties.criteria as { allOf: Array<Record<string, unknown>> }).allOf[0];
    expect(criteria).toMatchObject({ operator: 'GreaterThan', threshold: 0, timeAggregation: 'Count' });
    expect(criteria?.query).toBe(`customEvents | where name == "${EventNames.messagePoisoned}"`);
  });
});

describe('4. the roster as Teams answers it', () => {
  /** The 1:1 chat the app opened with this person (createConversation names them as its member). */
  const chat = (p: { id: string }) =>
    [...app.connector.conversations.values()].find((c) => c.members.some((m) => m.id === p.id))?.id ?? '';

  beforeAll(async () => {
    // botbuilder's TeamsInfo.getPagedMembers asks for the team's roster (channelData.team.id).
    app.connector.setRoster(TEAM.id, pagedMembersAnswer().members);
    app.connector.registerConversation(`${CHANNEL_ID};messageid=1763719632001`, { tenantId: TENANT });
    expect((await app.post('messages', teamInstallationUpdate(app.connector.url))).status).toBe(200);
    expect((await app.post('messages', botAddedToTeam(app.connector.url))).status).toBe(200);
    // The install answers at once; its queued task reads the roster (docs/bot.md).
    await eventually(async () => (await store(app).getTeam(TENANT, TEAM.id))?.rosterSyncedAt);
  });

  it('stores the objectId of each person in the pagedmembers answer as the AAD object ID, and reaches them by it', async () => {
    const grady = await store(app).getUserById(TENANT, PEOPLE.grady.id);
    expect(grady).toMatchObject({ aadObjectId: PEOPLE.grady.objectId, upn: PEOPLE.grady.userPrincipalName });
    const id = jobId('aad');
    await enqueueNotification(
      {
        id,
        tenantId: TENANT,
        recipients: [{ aadObjectId: PEOPLE.grady.objectId }],
        message: { text: 'by object ID' },
      },
      { connection: app.azurite.connectionString },
    );
    expect((await settled(app, id)).totals).toMatchObject({ sent: 1 });
    expect(sentTo(app, chat(PEOPLE.grady)).map((a) => a.body.text)).toContain('by object ID');
  });

  it('leaves the anonymous guest out of the roster (no object ID, no 1:1 chat possible)', async () => {
    expect(await store(app).getUserById(TENANT, PEOPLE.guest.id)).toBeUndefined();
    expect((await store(app).getTeam(TENANT, TEAM.id))?.memberCount).toBe(2);
  });

  it('teamRenamed updates the stored team name', async () => {
    expect((await store(app).getTeam(TENANT, TEAM.id))?.name).toBe(TEAM.name);
    expect((await app.post('messages', teamRenamed(app.connector.url, 'Contoso Platform'))).status).toBe(200);
    expect(await store(app).getTeam(TENANT, TEAM.id)).toMatchObject({
      name: 'Contoso Platform',
      installed: true,
    });
  });

  it('relays a documented channel @mention as a DM, and answers 200 to channel events it ignores', async () => {
    const res = await app.post(
      'messages',
      channelMessageWithMentions(app.connector.url, PEOPLE.adele, PEOPLE.grady, 'the release is out'),
    );
    expect(res.status).toBe(200);
    await eventually(
      () => sentTo(app, chat(PEOPLE.grady)).some((a) => String(a.body.text).includes('the release is out')),
      15_000,
      'DM to Grady',
    );
    expect((await app.post('messages', channelCreated(app.connector.url))).status).toBe(200);
  });
});

describe('5. card buttons', () => {
  const personalChat = 'a:1prod-personal-chat-adele';

  beforeAll(() => {
    app.connector.registerConversation(personalChat, {
      tenantId: TENANT,
      members: [{ id: PEOPLE.adele.id }],
    });
  });

  it('answers an adaptiveCard/action invoke with 200 and a Universal Actions message response', async () => {
    const res = await app.post(
      'messages',
      adaptiveCardAction(app.connector.url, PEOPLE.adele, personalChat, 'ack'),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.activity.message' });
    expect(typeof body.value).toBe('string');
  });

  it('does not answer an Action.Submit in a 1:1 chat as an unknown command (a typed message still is)', async () => {
    const before = sentTo(app, personalChat).length;
    const submit = actionSubmit(app.connector.url, PEOPLE.adele, personalChat, { choice: 'approve' });
    expect((await app.post('messages', submit)).status).toBe(200);
    const typed = personalMessage(app.connector.url, PEOPLE.adele, personalChat, 'what is this');
    expect((await app.post('messages', typed)).status).toBe(200);
    const replies = sentTo(app, personalChat)
      .slice(before)
      .map((a) => String(a.body.text));
    expect(replies).toHaveLength(1); // the typed message's reply only
    expect(replies[0]).toMatch(/Sorry, I only understand/);
  });

  it('answers the read receipt event 200 without a reply', async () => {
    const before = sentTo(app, personalChat).length;
    expect(
      (
        await app.post(
          'messages',
          readReceipt(app.connector.url, PEOPLE.adele, personalChat, '1763719544349'),
        )
      ).status,
    ).toBe(200);
    expect(sentTo(app, personalChat)).toHaveLength(before);
  });
});

describe('6. cards checked with the Adaptive Cards SDK', () => {
  const job = (card: Record<string, unknown>, id = jobId('card')) => ({
    id,
    tenantId: TENANT,
    recipients: [{ upn: 'someone@contoso.com' }],
    message: { card },
  });
  const post = async (card: Record<string, unknown>) => {
    const res = await app.post('notifications', job(card), KEY);
    return { status: res.status, body: (await res.json()) as { error: string; errors: string[] } };
  };

  it('refuses over HTTP, with the SDK messages, a card it finds invalid or that renders nothing', async () => {
    const version = await post({
      type: 'AdaptiveCard',
      version: '9.9',
      body: [{ type: 'TextBlock', text: 'x' }],
    });
    expect(version).toMatchObject({ status: 400, body: { error: 'CardInvalid' } });
    expect(version.body.errors.join()).toMatch(/card version \(9\.9\) is not supported/);

    const input = await post({ type: 'AdaptiveCard', version: '1.5', body: [{ type: 'Input.Text' }] });
    expect(input.body.errors.join()).toMatch(/All inputs must have a unique Id/);

    for (const card of [
      { type: 'AdaptiveCard', version: '1.5', body: [] },
      { type: 'AdaptiveCard', version: '1.5', body: [{ type: 'TextBlock' }] },
      { type: 'AdaptiveCard', version: '1.5', body: [{ type: 'Carousel3D' }] },
    ]) {
      const res = await post(card);
      expect(res, JSON.stringify(card)).toMatchObject({ status: 400, body: { error: 'CardInvalid' } });
      expect(res.body.errors.join()).toMatch(/render nothing/);
    }
    expect(
      (
        await post({ type: 'AdaptiveCard', version: '1.5', body: [{ type: 'Carousel3D' }] })
      ).body.errors.join(),
    ).toMatch(/Unknown element type "Carousel3D"/);
  });

  it('refuses it on the queue (RejectedJobs), in the client and in the CLI too', async () => {
    const empty = { type: 'AdaptiveCard', version: '1.5', body: [{ type: 'TextBlock', text: '  ' }] };
    const { messageId } = await jobsQueue().sendMessage(JSON.stringify(job(empty)));
    const row = await rejectedBy('queueMessageId', messageId);
    expect(row).toMatchObject({ reason: 'CardInvalid', source: 'queue' });

    const thrown = await enqueueNotification(job(empty), { connection: app.azurite.connectionString }).catch(
      (e: unknown) => e,
    );
    expect(thrown).toBeInstanceOf(JobValidationError);
    expect((thrown as JobValidationError).reason).toBe('CardInvalid');

    const file = path.join(tmpdir(), `card-empty-${process.pid}.json`);
    writeFileSync(file, JSON.stringify(empty));
    const notify = await cli('notify.js', ['--to', 'someone@contoso.com', '--card', file]);
    expect(notify.code).toBe(2);
    expect(notify.stderr).toMatch(/CardInvalid.*render nothing/);
  });

  it('delivers a valid card with an Action.Execute button', async () => {
    const user = await seedUser(app);
    const card = {
      type: 'AdaptiveCard',
      version: '1.5',
      body: [{ type: 'TextBlock', text: 'Incident INC-4711', wrap: true }],
      actions: [
        { type: 'Action.Execute', title: 'Acknowledge', verb: 'ack', data: { incident: 'INC-4711' } },
      ],
    };
    const id = jobId('card-ok');
    await enqueueNotification(
      { id, tenantId: TENANT, recipients: [{ upn: user.upn! }], message: { card } },
      { connection: app.azurite.connectionString },
    );
    expect((await settled(app, id)).totals.sent).toBe(1);
  });
});

describe('7. producers hear about rejections', () => {
  it('shows a rejected job at its status URL and in npm run status (exit 1), and lists it in npm run rejections', async () => {
    const id = jobId('rejected');
    await jobsQueue().sendMessage(
      JSON.stringify({ id, tenantId: TENANT, recipients: [], message: { text: 'x' } }),
    );
    const s = await eventually(async () => status(app, id), 20_000, 'rejection visible');
    expect(s).toMatchObject({ jobId: id, rejected: true, reason: 'SchemaInvalid', complete: true });
    expect(s.errors?.join()).toMatch(/recipients/);

    const out = await cli('status.js', [id]);
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(new RegExp(`job ${id} rejected \\(SchemaInvalid\\)`));
    expect(out.stdout).toMatch(/recipients/);

    const list = await cli('rejections.js', []);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(id);
    expect(list.stdout).toMatch(/SchemaInvalid/);
  });

  it('answers 409 at once when an ID is reused for different content, 202 for the same content', async () => {
    const user = await seedUser(app);
    const id = jobId('dup');
    const first = { id, tenantId: TENANT, recipients: [{ upn: user.upn }], message: { text: 'first' } };
    expect((await app.post('notifications', first, KEY)).status).toBe(202);
    await settled(app, id);
    const other = await app.post('notifications', { ...first, message: { text: 'second' } }, KEY);
    expect(other.status).toBe(409);
    expect(await other.json()).toMatchObject({ error: 'DuplicateJobId' });
    expect((await app.post('notifications', first, KEY)).status).toBe(202);
  });

  it('npm run status exits non-zero when a delivery failed, zero when all were sent', async () => {
    const user = await seedUser(app);
    const failed = jobId('failed');
    const ok = jobId('ok');
    for (const [id, upn] of [
      [failed, 'nobody-here@contoso.com'],
      [ok, user.upn!],
    ] as const) {
      await enqueueNotification(
        { id, tenantId: TENANT, recipients: [{ upn }], message: { text: 'x' } },
        { connection: app.azurite.connectionString },
      );
      await settled(app, id);
    }
    const bad = await cli('status.js', [failed]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/1 failed/);
    expect((await cli('status.js', [ok])).code).toBe(0);
  });
});

describe('telemetry', () => {
  it('raised JobRejected for the unreadable message and MessagePoisoned for each poison queue', async () => {
    await app.host.stop(); // flushes the exporter
    const events = customEvents(ingestion.envelopes);
    const rejected = events.filter((e) => e.name === 'JobRejected');
    expect(
      rejected.some((e) => e.properties.reason === 'InvalidJson' && e.properties.source === 'queue'),
    ).toBe(true);
    expect(rejected.some((e) => e.properties.reason === 'CardInvalid')).toBe(true);
    const poisoned = events.filter((e) => e.name === 'MessagePoisoned');
    expect(poisoned.map((e) => e.properties.queue).sort()).toEqual([
      'notification-deliveries',
      'notification-deliveries',
      'notification-jobs',
    ]);
    expect(poisoned.find((e) => e.properties.queue === 'notification-jobs')?.properties.reason).toBe(
      'Poisoned',
    );
  });
});
