import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageQueueSender } from '../shared/azureStorage/queueSender.js';
import { queueClient, tableClient } from '../shared/azureStorage/connection.js';
import { LazyTable } from '../shared/azureStorage/table.js';
import { TableCallbackStore } from '../shared/azureStorage/tableCallbackStore.js';
import { CallbackService } from '../shared/callbacks/callbackService.js';
import { postEvent } from '../shared/callbacks/sender.js';
import { verifySignature } from '../shared/callbacks/signature.js';
import { CALLBACKS_QUEUE, JOBS_QUEUE } from '../shared/queues.js';
import { BOT_ID, FUNCTION_KEY, TENANT, eventually, startApp, type TestApp } from './support/app.js';
import { startCallbackReceiver, type CallbackReceiver } from './support/callbackReceiver.js';
import { FAST_QUEUES, seedUser } from './support/pipeline.js';

/**
 * Issue 25: completion callbacks on the running app. A job with `callback.url` gets one CloudEvents
 * 1.0 event (structured JSON) when every recipient has an outcome, or when it is rejected, signed
 * with HMAC-SHA256, retried with back-off from a queue, its outcome in the job's status. On
 * 06d3f9d the contract refused `callback` (unknown property) and producers had to poll.
 */

const SECRET = 'callback-secret-for-tests-0123456789abcdef';

describe('completion callbacks', () => {
  let receiver: CallbackReceiver;
  let app: TestApp;
  let users: string[] = [];

  const key = { 'x-functions-key': FUNCTION_KEY };
  const events = (jobId: string) =>
    receiver.received.filter((r) => (JSON.parse(r.body) as { subject?: string }).subject === jobId);
  const post = (id: string, extra: Record<string, unknown> = {}, recipients = users.slice(0, 2)) =>
    app.post(
      'notifications',
      {
        id,
        tenantId: TENANT,
        recipients: recipients.map((upn) => ({ upn })),
        message: { text: `job ${id}` },
        callback: { url: `${receiver.url}/hooks/teams?job=${id}` },
        ...extra,
      },
      key,
    );
  const status = async (id: string) =>
    (await (await app.get(`notifications/${id}`, key)).json()) as {
      callbacks?: Array<{ event: string; state: string; attempts: number; lastStatus?: number }>;
    };

  beforeAll(async () => {
    receiver = await startCallbackReceiver();
    app = await startApp({
      env: {
        ...FAST_QUEUES,
        CALLBACK_ALLOWED_HOSTS: receiver.host,
        CALLBACK_SIGNING_SECRET: SECRET,
        CALLBACK_FIRST_RETRY_SECONDS: '1',
      },
    });
    users = await Promise.all([1, 2, 3].map(async () => (await seedUser(app)).upn!));
  });

  afterAll(async () => {
    await app?.stop();
    await receiver?.stop();
  });

  it('POSTs one signed JobCompleted CloudEvent with the totals and the status URL when the job completes', async () => {
    expect((await post('cb-complete', {}, users)).status).toBe(202);
    const [event] = await eventually(() => events('cb-complete').length > 0 && events('cb-complete'));
    expect(event!.path).toBe('/hooks/teams?job=cb-complete');
    expect(event!.headers['content-type']).toBe('application/cloudevents+json; charset=utf-8');
    const body = JSON.parse(event!.body) as Record<string, unknown>;
    expect(body).toEqual({
      specversion: '1.0',
      id: `${TENANT}/cb-complete/completed`,
      source: `/api/notifications?tenantId=${TENANT}`,
      type: 'com.teams-notifier.job.JobCompleted',
      subject: 'cb-complete',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      datacontenttype: 'application/json',
      data: {
        jobId: 'cb-complete',
        tenantId: TENANT,
        statusUrl: `${app.url}/api/notifications/cb-complete?tenantId=${TENANT}`,
        totals: expect.objectContaining({ recipients: 3, sent: 3, failed: 0, skipped: 0, pending: 0 }),
      },
    });
    const headers = {
      signature: String(event!.headers['x-notifier-signature']),
      timestamp: String(event!.headers['x-notifier-timestamp']),
    };
    expect(verifySignature(SECRET, headers, event!.body, Math.floor(Date.now() / 1000))).toBe(true);
    expect(
      verifySignature('another-secret-of-32-characters-xx', headers, event!.body, Date.now() / 1000),
    ).toBe(false);
    const shown = await eventually(
      async () =>
        (await status('cb-complete')).callbacks?.[0]?.state === 'delivered' && status('cb-complete'),
    );
    expect(shown.callbacks).toEqual([
      expect.objectContaining({ event: 'completed', state: 'delivered', attempts: 1, lastStatus: 200 }),
    ]);
    // Every delivery of the job looked; only one event went out.
    await new Promise((r) => setTimeout(r, 1500));
    expect(events('cb-complete')).toHaveLength(1);
  });

  it('completes a job whose last outcome is a failure on the last attempt: the failure is in the totals', async () => {
    const [ok, failing] = await Promise.all([seedUser(app), seedUser(app)]);
    // Teams fails every send to one of them: three attempts, then recorded failed (docs/delivery.md).
    const chat = app.connector.conversationIdFor(TENANT, failing.userId, BOT_ID);
    app.connector.script((r) => r.route === 'sendActivity' && r.conversationId === chat, { status: 500 }, 30);
    expect((await post('cb-failed', {}, [ok.upn!, failing.upn!])).status).toBe(202);
    const [event] = await eventually(
      () => events('cb-failed').length > 0 && events('cb-failed'),
      45_000,
      'the JobCompleted event',
    );
    expect((JSON.parse(event!.body) as { data: { totals: unknown } }).data.totals).toMatchObject({
      recipients: 2,
      sent: 1,
      failed: 1,
      pending: 0,
    });
  });

  it('retries a failed attempt with back-off from the queue, then shows it delivered', async () => {
    receiver.answers.push(503);
    expect((await post('cb-retry')).status).toBe(202);
    await eventually(() => events('cb-retry').length === 2, 20_000);
    const [first, second] = events('cb-retry');
    expect(JSON.parse(second!.body).id).toBe(JSON.parse(first!.body).id); // the same event, again
    const shown = await eventually(
      async () => (await status('cb-retry')).callbacks?.[0]?.state === 'delivered' && status('cb-retry'),
    );
    expect(shown.callbacks?.[0]).toMatchObject({ attempts: 2, lastStatus: 200 });
  });

  it('gives up at once when the receiver refuses the event, and says so in the status', async () => {
    receiver.answers.push(410);
    expect((await post('cb-gone')).status).toBe(202);
    const shown = await eventually(
      async () => (await status('cb-gone')).callbacks?.[0]?.state === 'failed' && status('cb-gone'),
    );
    expect(shown.callbacks?.[0]).toMatchObject({ event: 'completed', attempts: 1, lastStatus: 410 });
    expect(events('cb-gone')).toHaveLength(1);
  });

  it('POSTs JobRejected for a job rejected on the queue', async () => {
    const job = {
      id: 'cb-rejected',
      tenantId: TENANT,
      recipients: [{ upn: users[0] }],
      message: { text: 'too late' },
      expiresAt: '2020-01-01T00:00:00Z',
      callback: { url: `${receiver.url}/hooks/teams` },
    };
    await app.queue(JOBS_QUEUE).sendMessage(JSON.stringify(job));
    const [event] = await eventually(() => events('cb-rejected').length > 0 && events('cb-rejected'));
    const body = JSON.parse(event!.body) as { type: string; data: { reason: string; errors: string[] } };
    expect(body.type).toBe('com.teams-notifier.job.JobRejected');
    expect(body.data).toMatchObject({
      jobId: 'cb-rejected',
      reason: 'Expired',
      errors: [expect.stringContaining('/expiresAt')],
    });
  });

  it('sends each event once however many instances queue it (the conditional insert of its row)', async () => {
    expect((await post('cb-once')).status).toBe(202);
    await eventually(() => events('cb-once').length === 1);
    const storage = { connectionString: app.azurite.connectionString };
    const copy = new CallbackService({
      store: new TableCallbackStore(new LazyTable(tableClient(storage, 'Jobs'))),
      queue: new StorageQueueSender(queueClient(storage, CALLBACKS_QUEUE)),
      secret: SECRET,
      policy: { allowedHosts: [receiver.host], runsInAzure: false },
      firstRetrySeconds: 1,
    });
    const ref = { tenantId: TENANT, jobId: 'cb-once' };
    // Two more instances found the job complete and queued the event too.
    for (let i = 0; i < 2; i++)
      await copy.enqueue('completed', ref, `${receiver.url}/hooks/teams`, { ...ref, totals: {} });
    await eventually(
      async () => (await app.queue(CALLBACKS_QUEUE).getProperties()).approximateMessagesCount === 0,
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(events('cb-once')).toHaveLength(1);
  });

  it('refuses at the door a callback to a host not named in CALLBACK_ALLOWED_HOSTS', async () => {
    const res = await app.post(
      'notifications',
      {
        id: 'cb-elsewhere',
        tenantId: TENANT,
        recipients: [{ upn: users[0] }],
        message: { text: 'x' },
        callback: { url: 'https://attacker.example/x' },
      },
      key,
    );
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: 'CallbackNotAllowed',
      errors: ['/callback/url: host attacker.example is not in CALLBACK_ALLOWED_HOSTS'],
    });
    // On the queue too: the job is set aside with the reason, and nothing is called.
    const queued = {
      id: 'cb-elsewhere-q',
      tenantId: TENANT,
      recipients: [{ upn: users[0] }],
      message: { text: 'x' },
      callback: { url: 'https://attacker.example/q' },
    };
    await app.queue(JOBS_QUEUE).sendMessage(JSON.stringify(queued));
    const refused = await eventually(async () => {
      const body = (await (await app.get('notifications/cb-elsewhere-q', key)).json()) as {
        rejected?: boolean;
        reason?: string;
      };
      return body.rejected && body;
    });
    expect(refused.reason).toBe('CallbackNotAllowed');
  });

  it('in Azure, never connects to a host whose name resolves to a loopback address', async () => {
    const before = receiver.received.length;
    const port = new URL(receiver.url).port;
    const result = await postEvent(`http://localhost:${port}/x`, '{}', {}, { runsInAzure: true });
    expect(result).toEqual({
      kind: 'refused',
      why: expect.stringMatching(/^localhost: .* is a loopback address$/),
    });
    expect(receiver.received.length).toBe(before);
  });
});
