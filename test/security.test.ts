import { describe, expect, it } from 'vitest';
import { BOT_ID, FUNCTION_KEY, TENANT, eventually, type TestApp } from './support/app.js';
import { channelMessage, personalInstall, personalMessage, teamEvent } from './support/activities.js';
import type { ManagedIdentityServer } from './support/managedIdentity.js';
import { enqueue, seedUser, settled, store } from './support/pipeline.js';
import { useSecureApp } from './support/security.js';
import type { TrapServer } from './support/trapServer.js';
import { enqueueNotification } from '../shared/jobs/producer.js';
import { parseNotifyArgs } from '../scripts/notify.js';

/**
 * Issue 6, security. The bot runs with authentication on and a real outbound token: a user-assigned
 * managed identity served by a local identity endpoint, so botbuilder and the delivery connector hold
 * `msi.token` and would send it with every call. Inbound tokens are signed by a local OpenID server
 * and validated by botbuilder for real (the rejected-token cases are in auth.test.ts). The last test
 * checks the logs of all the tests before it for secrets. Oversized bodies: oversized-bodies.test.ts.
 */

const FOREIGN_TENANT = 'f00dbabe-0000-0000-0000-000000000000';

let app: TestApp;
let msi: ManagedIdentityServer;
let trap: TrapServer;
const { consoleLines, inboundTokens, signedPost, partitionRows, rejectedRow, jobRecorded, authorizedCalls } =
  useSecureApp((started) => ({ app, msi, trap } = started));

describe('the bot token never leaves for a host that is not Microsoft', () => {
  it('holds a real token: a valid activity from the trusted service URL reaches Teams with it', async () => {
    const user = { id: '29:sec-known', name: 'Known User', aadObjectId: 'aad-sec-known' };
    const chat = 'a:sec-known';
    app.connector.registerConversation(chat, { tenantId: TENANT, members: [user] });
    const res = await signedPost(personalInstall(app.connector.url, user, chat));
    expect(res.status).toBe(200);
    // The welcome went out with the managed identity's token: the trap tests below are not vacuous.
    expect(app.connector.accepted.some((a) => a.conversationId === chat)).toBe(true);
    expect(authorizedCalls().length).toBeGreaterThan(0);
    expect(authorizedCalls().every((c) => c.headers.authorization === `Bearer ${msi.token}`)).toBe(true);
    expect(msi.issued).toBeGreaterThan(0);
  });

  it('refuses signed activities whose service URL points elsewhere (403), stores nothing and calls nothing', async () => {
    const port = new URL(trap.url).port;
    const steered = [
      trap.url,
      `http://smba.trafficmanager.net@127.0.0.1:${port}/`,
      `http://127.0.0.1:${port}/smba.trafficmanager.net/teams/`,
      `http://127.0.0.1:${port}/amer/?host=smba.trafficmanager.net`,
    ];
    const victim = { id: '29:sec-victim', name: 'Isaiah Langer' };
    for (const [i, serviceUrl] of steered.entries()) {
      const eve = { id: `29:sec-eve-${i}`, name: 'Eve', aadObjectId: `aad-sec-eve-${i}` };
      const activities = [
        personalInstall(serviceUrl, eve, `a:sec-eve-${i}`),
        personalMessage(serviceUrl, eve, `a:sec-eve-${i}`, 'help'),
        teamEvent(serviceUrl, `team-sec-${i}`, eve, {
          eventType: 'teamMemberAdded',
          membersAdded: [{ id: BOT_ID }],
        }),
        channelMessage(serviceUrl, `team-sec-${i}`, eve, '<at>Bot</at> tell <at>Isaiah Langer</at> hi', [
          { id: BOT_ID, name: 'Bot' },
          victim,
        ]),
      ];
      for (const activity of activities) {
        const res = await signedPost(activity);
        expect(res.status, `${activity.type} from ${serviceUrl}`).toBe(403);
        expect(await res.json()).toEqual({ error: 'service URL not trusted' });
      }
    }
    expect(trap.requests).toEqual([]);
    expect(
      (await partitionRows(TENANT)).filter((r) => /sec-eve|sec-victim|team-sec/.test(String(r.rowKey))),
    ).toEqual([]);
  });

  it('rejects a job that names a service URL anywhere, on the queue and over HTTP', async () => {
    const user = await seedUser(app);
    const steering = [
      { serviceUrl: trap.url },
      { recipients: [{ upn: user.upn, serviceUrl: trap.url }] },
      { message: { text: 'hi', serviceUrl: trap.url } },
    ];
    for (const [i, extra] of steering.entries()) {
      const job = {
        id: `sec-steer-${i}`,
        tenantId: TENANT,
        recipients: [{ upn: user.upn }],
        message: { text: 'hi' },
        ...extra,
      };
      const http = await app.post(
        'notifications',
        { ...job, id: `sec-steer-http-${i}` },
        {
          'x-functions-key': FUNCTION_KEY,
        },
      );
      expect(http.status).toBe(400);
      expect(((await http.json()) as { errors: string[] }).errors.join()).toMatch(
        /unknown property "serviceUrl"/,
      );
      await app.queue('notification-jobs').sendMessage(Buffer.from(JSON.stringify(job)).toString('base64'));
      const row = await rejectedRow(job.id);
      expect(row.reason).toBe('SchemaInvalid');
      expect(String(row.errors)).toMatch(/unknown property \\"serviceUrl\\"/);
      expect(await jobRecorded(job.id)).toBe(false);
    }
    expect(trap.requests).toEqual([]);
  });

  it('fails a delivery to a stored reference that points elsewhere, with a reason, without calling it', async () => {
    // A reference stored while the bot ran without authentication (any service URL was accepted then).
    const user = await seedUser(app, { serviceUrl: trap.url });
    const { jobId } = await enqueue(app, { recipients: [{ upn: user.upn! }], message: { text: 'hi' } });
    const s = await settled(app, jobId);
    expect(s.recipients[0]).toMatchObject({ status: 'failed', reason: 'UntrustedServiceUrl' });
    expect(trap.requests).toEqual([]);
    expect((await store(app).getUserById(TENANT, user.userId))?.conversationId).toBeUndefined();
  });
});

describe('tenant allowlist', () => {
  const foreignJob = (id: string) => ({
    id,
    tenantId: FOREIGN_TENANT,
    recipients: [{ upn: 'eve@fabrikam.com' }],
    message: { text: 'hi' },
  });

  it('answers 403 with the reason to a job for another tenant over HTTP, and records nothing', async () => {
    const res = await app.post('notifications', foreignJob('sec-foreign-http'), {
      'x-functions-key': FUNCTION_KEY,
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({
      error: 'TenantNotAllowed',
      errors: [expect.stringMatching(/tenant f00dbabe-.* is not in ALLOWED_TENANT_IDS/)],
    });
    expect(await jobRecorded('sec-foreign-http')).toBe(false);
  });

  it('sets aside a CLI job for another tenant (the queue path is in delivery.test.ts)', async () => {
    const job = parseNotifyArgs(
      ['--to', 'eve@fabrikam.com', '--text', 'hi', '--tenant', FOREIGN_TENANT, '--id', 'sec-foreign-cli'],
      {},
    );
    await enqueueNotification(job, { connection: app.azurite.connectionString });
    const row = await rejectedRow('sec-foreign-cli');
    expect(row).toMatchObject({ reason: 'TenantNotAllowed', source: 'queue' });
    expect(await jobRecorded('sec-foreign-cli')).toBe(false);
  });

  it('refuses a correctly signed activity from another tenant (403) and stores nothing', async () => {
    const eve = { id: '29:sec-foreign', name: 'Eve' };
    const res = await signedPost(personalInstall(app.connector.url, eve, 'a:sec-foreign', FOREIGN_TENANT));
    expect(res.status).toBe(403);
    expect(await partitionRows(FOREIGN_TENANT)).toEqual([]);
    expect(app.connector.calls.some((c) => c.conversationId === 'a:sec-foreign')).toBe(false);
  });
});

describe('logs', () => {
  it('never contain a secret, a token, message text or a UPN', async () => {
    // Leading, so that even a 10-character quote of the message (as in a JSON parse error) contains it.
    const marker = crypto.randomUUID().replace(/-/g, '').slice(0, 10);
    const text = `${marker} quarterly numbers`;
    const upn = `sec.log.${Date.now()}@contoso.com`;
    const user = await seedUser(app, { upn });
    // Delivered over the queue and over HTTP...
    const { jobId } = await enqueue(app, { recipients: [{ upn }], message: { text: `${text} A` } });
    expect((await settled(app, jobId)).totals.sent).toBe(1);
    const http = await app.post(
      'notifications',
      { id: 'sec-log-http', tenantId: TENANT, recipients: [{ upn }], message: { text: `${text} B` } },
      { 'x-functions-key': FUNCTION_KEY },
    );
    expect(http.status).toBe(202);
    expect((await settled(app, 'sec-log-http')).totals.sent).toBe(1);
    // ...rejected (not JSON, truncated JSON, an expired job, an unknown property)...
    const jobs = app.queue('notification-jobs');
    const truncated = JSON.stringify({
      id: 'sec-log-bad',
      tenantId: TENANT,
      recipients: [{ upn }],
      message: { text },
    });
    for (const body of [
      text,
      truncated.slice(0, -3),
      JSON.stringify({
        id: 'sec-log-old',
        tenantId: TENANT,
        recipients: [{ upn }],
        message: { text },
        expiresAt: '2020-01-01T00:00:00Z',
      }),
      JSON.stringify({
        id: 'sec-log-extra',
        tenantId: TENANT,
        recipients: [{ upn }],
        message: { text, [text]: 1 },
      }),
    ]) {
      await jobs.sendMessage(Buffer.from(body).toString('base64'));
    }
    await rejectedRow('sec-log-old');
    await rejectedRow('sec-log-extra');
    await eventually(async () => {
      for await (const row of app.table('RejectedJobs').listEntities<Record<string, unknown>>()) {
        if (row.reason === 'InvalidJson' && String(row.body).includes(text)) return true;
      }
      return false;
    });
    // ...and in conversation: a 1:1 message to the bot, and an @mention relayed as a DM.
    const chat = 'a:sec-log';
    app.connector.registerConversation(chat, { tenantId: TENANT, members: [{ id: user.userId }] });
    expect(
      (await signedPost(personalMessage(app.connector.url, { id: user.userId }, chat, `${text} C`))).status,
    ).toBe(200);
    const mention = channelMessage(
      app.connector.url,
      'team-sec-log',
      { id: user.userId, name: 'Sender' },
      `<at>Bot</at> tell <at>Lee</at> ${text} D`,
      [
        { id: BOT_ID, name: 'Bot' },
        { id: user.userId, name: 'Lee' },
      ],
    );
    app.connector.registerConversation(mention.conversation.id, { tenantId: TENANT });
    expect((await signedPost(mention)).status).toBe(200);
    expect(app.connector.accepted.some((a) => String(a.body.text).includes(`${text} D`))).toBe(true);

    const accountKey = /AccountKey=([^;]+)/.exec(app.azurite.connectionString)?.[1];
    const secrets = {
      'function key': FUNCTION_KEY,
      'storage account key': accountKey,
      'bot token': msi.token,
      'identity header': msi.env.IDENTITY_HEADER,
      ...Object.fromEntries(inboundTokens.map((t, i) => [`inbound token ${i}`, t.split('.')[2]])),
      'message text': marker,
      UPN: upn,
    };
    const logged = [...app.logs.map((l) => l.message), ...consoleLines];
    expect(logged.length).toBeGreaterThan(20);
    expect(logged.some((l) => l.includes(jobId))).toBe(true);
    for (const [what, secret] of Object.entries(secrets)) {
      expect(secret, what).toBeTruthy();
      const leaks = logged.filter((line) => line.includes(secret!));
      expect(leaks, `${what} in logs`).toEqual([]);
    }
  });
});
