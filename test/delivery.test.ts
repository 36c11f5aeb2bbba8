import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOT_ID, FUNCTION_KEY, ROOT, TENANT, eventually, startApp, type TestApp } from './support/app.js';
import {
  FAST_QUEUES,
  enqueue,
  queueLength,
  seedUser,
  sentTo,
  settled,
  status,
  store,
} from './support/pipeline.js';
import { parseNotifyArgs } from '../scripts/notify.js';

/** Issue 3: the queue pipeline end to end, against real Azurite queues and tables. */

const run = promisify(execFile);
let app: TestApp;

beforeAll(async () => {
  app = await startApp({ env: { ...FAST_QUEUES, RECIPIENT_HOURLY_CAP: '3', ALLOWED_TENANT_IDS: TENANT } });
});

afterAll(async () => {
  await app?.stop();
});

describe('delivery to a user by user and tenant ID', () => {
  it('opens the 1:1 chat on first contact, stores its ID and reuses it', async () => {
    const user = await seedUser(app);
    const first = await enqueue(app, {
      recipients: [{ upn: user.upn! }],
      message: { text: 'Build **42** is green' },
    });
    const s1 = await settled(app, first.jobId);
    expect(s1.totals).toMatchObject({ recipients: 1, sent: 1, failed: 0 });
    const chatId = app.connector.conversationIdFor(TENANT, user.userId, BOT_ID);
    const conversation = app.connector.conversations.get(chatId);
    expect(conversation?.createCount).toBe(1);
    const create = app.connector.calls.find(
      (c) =>
        c.route === 'createConversation' &&
        c.conversationId === undefined &&
        JSON.stringify(c.body).includes(user.userId),
    );
    expect(create?.body).toMatchObject({
      isGroup: false,
      members: [{ id: user.userId }],
      tenantId: TENANT,
      channelData: { tenant: { id: TENANT } },
    });
    expect((await store(app).getUserById(TENANT, user.userId))?.conversationId).toBe(chatId);
    expect(sentTo(app, chatId)[0]?.body).toMatchObject({ type: 'message', text: 'Build **42** is green' });
    expect(s1.recipients[0]).toMatchObject({
      status: 'sent',
      activityId: sentTo(app, chatId)[0]?.activityId,
    });

    // By AAD object ID this time: the same chat, no second createConversation.
    const second = await enqueue(app, {
      recipients: [{ aadObjectId: user.aadObjectId! }],
      message: { text: 'again' },
    });
    expect((await settled(app, second.jobId)).totals.sent).toBe(1);
    expect(app.connector.conversations.get(chatId)?.createCount).toBe(1);
    expect(sentTo(app, chatId)).toHaveLength(2);
  });

  it('sends an Adaptive Card with its summary', async () => {
    const user = await seedUser(app);
    const card = {
      type: 'AdaptiveCard',
      version: '1.5',
      body: [{ type: 'TextBlock', text: 'Deploy finished' }],
    };
    const { jobId } = await enqueue(app, {
      recipients: [{ userId: user.userId }],
      message: { card, summary: 'Deploy' },
    });
    expect((await settled(app, jobId)).totals.sent).toBe(1);
    const sent = sentTo(app, app.connector.conversationIdFor(TENANT, user.userId, BOT_ID))[0]?.body;
    expect(sent).toMatchObject({
      summary: 'Deploy',
      attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: card }],
    });
  });

  it('addresses a Teams user ID the store has never seen', async () => {
    const { jobId } = await enqueue(app, {
      recipients: [{ userId: '29:never-seen' }],
      message: { text: 'hi' },
    });
    expect((await settled(app, jobId)).totals.sent).toBe(1);
    expect(
      app.connector.conversations.get(app.connector.conversationIdFor(TENANT, '29:never-seen', BOT_ID))
        ?.createCount,
    ).toBe(1);
  });

  it('fails a recipient it cannot address, with a clear reason, without touching the others', async () => {
    const known = await seedUser(app);
    const { jobId } = await enqueue(app, {
      recipients: [{ upn: 'nobody@contoso.com' }, { upn: known.upn! }],
      message: { text: 'fan-out' },
    });
    const s = await settled(app, jobId);
    expect(s.totals).toMatchObject({ sent: 1, failed: 1 });
    const missing = s.recipients.find((r) => r.recipient === 'upn:nobody@contoso.com');
    expect(missing).toMatchObject({ status: 'failed', reason: 'RecipientNotFound' });
    expect(missing?.detail).toMatch(/install the bot/);
  });
});

describe("don't spam", () => {
  it('skips a recipient who said stop, and records it', async () => {
    const user = await seedUser(app);
    await store(app).updateUser(TENANT, user.userId, (u) => (u ? { ...u, optedOut: true } : undefined));
    const { jobId } = await enqueue(app, {
      recipients: [{ userId: user.userId }],
      message: { text: 'nope' },
    });
    const s = await settled(app, jobId);
    expect(s.recipients[0]).toMatchObject({ status: 'skipped', reason: 'OptedOut' });
    expect(app.connector.calls.some((c) => JSON.stringify(c.body ?? '').includes(user.userId))).toBe(false);
  });

  it('caps notifications per recipient per hour', async () => {
    const user = await seedUser(app);
    const outcomes = [];
    for (let i = 0; i < 4; i++) {
      const { jobId } = await enqueue(app, {
        recipients: [{ userId: user.userId }],
        message: { text: `n${i}` },
      });
      outcomes.push((await settled(app, jobId)).recipients[0]);
    }
    expect(outcomes.map((o) => o?.status)).toEqual(['sent', 'sent', 'sent', 'skipped']);
    expect(outcomes[3]?.reason).toBe('HourlyCapReached');
  });
});

describe('bad jobs', () => {
  async function rejectedRows() {
    const rows = [];
    for await (const row of app.table('RejectedJobs').listEntities<Record<string, unknown>>()) rows.push(row);
    return rows;
  }

  it('sets an invalid job aside with its reason and never retries it', async () => {
    const jobs = app.queue('notification-jobs');
    await jobs.createIfNotExists();
    const bad = { id: 'bad-job-1', tenantId: TENANT, recipients: [], message: { text: 'x' } };
    await jobs.sendMessage(Buffer.from(JSON.stringify(bad)).toString('base64'));
    await jobs.sendMessage(Buffer.from('this is not json').toString('base64'));
    const rows = await eventually(async () => {
      const found = await rejectedRows();
      return found.length >= 2 ? found : undefined;
    });
    const schema = rows.find((r) => r.jobId === 'bad-job-1');
    expect(schema?.reason).toBe('SchemaInvalid');
    expect(String(schema?.errors)).toMatch(/recipients: must NOT have fewer than 1 items/);
    expect(rows.some((r) => r.reason === 'InvalidJson')).toBe(true);
    expect(await queueLength(app, 'notification-jobs-poison')).toBe(0);
    // The producer sees the rejection at the job's status URL.
    expect(await status(app, 'bad-job-1')).toMatchObject({ rejected: true, reason: 'SchemaInvalid' });
  });

  it('refuses a job for a tenant outside the allowlist', async () => {
    const jobs = app.queue('notification-jobs');
    const job = {
      id: 'foreign-1',
      tenantId: 'f00dbabe-0000-0000-0000-000000000000',
      recipients: [{ upn: 'a@b.c' }],
      message: { text: 'x' },
    };
    await jobs.sendMessage(Buffer.from(JSON.stringify(job)).toString('base64'));
    const row = await eventually(async () => (await rejectedRows()).find((r) => r.jobId === 'foreign-1'));
    expect(row.reason).toBe('TenantNotAllowed');
    expect(app.connector.calls.some((c) => JSON.stringify(c.body ?? '').includes('a@b.c'))).toBe(false);
  });

  it('refuses a message over Teams size limit before anything is sent', async () => {
    await expect(
      enqueue(app, {
        recipients: [{ upn: 'a@contoso.com' }],
        message: { text: 'x'.repeat(27_000) + '€'.repeat(1000) },
      }),
    ).rejects.toThrow(/MessageTooLarge/);
  });
});

describe('producers and status', () => {
  it('POST /api/notifications validates, enqueues and answers 202 with the job ID and a status URL', async () => {
    const user = await seedUser(app);
    const res = await app.post(
      'notifications',
      { id: 'http-job-1', tenantId: TENANT, recipients: [{ upn: user.upn }], message: { text: 'from HTTP' } },
      { 'x-functions-key': FUNCTION_KEY },
    );
    expect(res.status).toBe(202);
    const body = (await res.json()) as { jobId: string; statusUrl: string };
    expect(body.jobId).toBe('http-job-1');
    expect(body.statusUrl).toBe(`${app.url}/api/notifications/http-job-1?tenantId=${TENANT}`);
    const s = await settled(app, 'http-job-1');
    expect(s.totals.sent).toBe(1);
    const fromUrl = await fetch(body.statusUrl, { headers: { 'x-functions-key': FUNCTION_KEY } });
    expect(((await fromUrl.json()) as { totals: { sent: number } }).totals.sent).toBe(1);
  });

  it('POST /api/notifications answers 400 with the schema errors, and 401 without the function key', async () => {
    const invalid = await app.post(
      'notifications',
      { tenantId: TENANT, recipients: [{ phone: '123' }] },
      { 'x-functions-key': FUNCTION_KEY },
    );
    expect(invalid.status).toBe(400);
    const body = (await invalid.json()) as { error: string; errors: string[] };
    expect(body.error).toBe('SchemaInvalid');
    expect(body.errors).toEqual(expect.arrayContaining([expect.stringMatching(/message/)]));
    expect((await app.post('notifications', '{oops', { 'x-functions-key': FUNCTION_KEY })).status).toBe(400);
    expect((await app.post('notifications', { tenantId: TENANT })).status).toBe(401);
    expect((await app.get('notifications/http-job-1')).status).toBe(401);
  });

  it('GET /api/notifications/{id} answers 404 for an unknown job', async () => {
    expect((await app.get('notifications/no-such-job', { 'x-functions-key': FUNCTION_KEY })).status).toBe(
      404,
    );
  });

  it('the CLI parses --to by kind, --card and --tenant', () => {
    const card = path.join(tmpdir(), `card-${process.pid}.json`);
    writeFileSync(card, JSON.stringify({ type: 'AdaptiveCard', version: '1.5', body: [] }));
    const job = parseNotifyArgs(
      [
        '--to',
        'meganb@example.com',
        '--to',
        '9d1f7c6e-1111-4a5b-9c3d-2e4f5a6b7c8d',
        '--to',
        '29:abc',
        '--text',
        'hi',
        '--card',
        card,
      ],
      { DEFAULT_TENANT_ID: TENANT },
    );
    expect(job).toMatchObject({
      tenantId: TENANT,
      recipients: [
        { upn: 'meganb@example.com' },
        { aadObjectId: '9d1f7c6e-1111-4a5b-9c3d-2e4f5a6b7c8d' },
        { userId: '29:abc' },
      ],
      message: { text: 'hi', card: { type: 'AdaptiveCard' } },
    });
    expect(() => parseNotifyArgs(['--to', 'a@b.c'], { DEFAULT_TENANT_ID: TENANT })).toThrow(
      /--text and\/or --card/,
    );
    expect(() => parseNotifyArgs(['--to', 'a@b.c', '--text', 'x'], {})).toThrow(/--tenant/);
  });

  it('npm run notify prints the job ID and npm run status shows the outcome', async () => {
    const user = await seedUser(app);
    const env = {
      ...process.env,
      AzureWebJobsStorage: app.azurite.connectionString,
      DEFAULT_TENANT_ID: TENANT,
    };
    const notify = await run(
      process.execPath,
      ['dist/scripts/notify.js', '--to', user.upn!, '--text', 'Build is green'],
      { cwd: ROOT, env },
    );
    const jobId = notify.stdout.trim();
    expect(jobId).toMatch(/^[0-9a-f-]{36}$/);
    await settled(app, jobId);
    const out = await run(process.execPath, ['dist/scripts/status.js', jobId], { cwd: ROOT, env });
    expect(out.stdout).toMatch(/1 recipient: 1 sent, 0 failed, 0 skipped, 0 pending/);
    expect(out.stdout).toMatch(new RegExp(`sent\\s+upn:${user.upn!.replace('.', '\\.')}\\s+activity `));
    const bad = await run(process.execPath, ['dist/scripts/notify.js', '--to', 'x@y.z'], {
      cwd: ROOT,
      env,
    }).catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringMatching(/nothing to send/) });
  });
});
