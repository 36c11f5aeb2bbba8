import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { QueueClient } from '@azure/storage-queue';
import { describe, expect, it } from 'vitest';
import { enqueueNotification, JobValidationError } from '../shared/jobs/producer.js';
import { EventNames } from '../shared/telemetry/telemetry.js';
import { ROOT, TENANT, eventually, type TestApp } from './support/app.js';
import { customEvents, type Ingestion } from './support/ingestion.js';
import { seedUser, settled, status } from './support/pipeline.js';
import { KEY, base64, jobId, useProductionApp } from './support/production.js';

/**
 * Issue 10: what production sends, at the intake: jobs as other producers' SDKs write them, poison
 * queues, cards checked by the Adaptive Cards SDK, and the telemetry all that raises (the last test
 * reads the events of those before it). The app runs in its own process, so its Application
 * Insights events reach a local ingestion endpoint. Teams' side: production-teams.test.ts.
 */

const PYTHON = '/usr/bin/python3';
const pythonSdk = spawnSync(PYTHON, ['-c', 'import azure.storage.queue'], { stdio: 'ignore' }).status === 0;
if (!pythonSdk) {
  console.warn(
    `The Python producer check is skipped: ${PYTHON} cannot import azure.storage.queue (apt-get install python3-azure; .ci/run does).`,
  );
}

let app: TestApp;
let ingestion: Ingestion;
const { jobsQueue, cli, rejectedBy } = useProductionApp((started) => ({ app, ingestion } = started));

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
