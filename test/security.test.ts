import { request as httpRequest } from 'node:http';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { BOT_ID, FUNCTION_KEY, TENANT, eventually, startApp, type TestApp } from './support/app.js';
import { channelMessage, personalInstall, personalMessage, teamEvent } from './support/activities.js';
import { startManagedIdentity, type ManagedIdentityServer } from './support/managedIdentity.js';
import { startOpenIdServer, type OpenIdServer } from './support/openid.js';
import { FAST_QUEUES, enqueue, seedUser, settled, store } from './support/pipeline.js';
import { startTrapServer, type TrapServer } from './support/trapServer.js';
import { handleMessages } from '../functions/messages/handler.js';
import { handlePostNotification } from '../functions/postNotification/handler.js';
import { enqueueNotification } from '../shared/jobs/producer.js';
import { parseNotifyArgs } from '../scripts/notify.js';

/**
 * Issue 6, security. The bot runs with authentication on and a real outbound token: a user-assigned
 * managed identity served by a local identity endpoint, so botbuilder and the delivery connector hold
 * `msi.token` and would send it with every call. Inbound tokens are signed by a local OpenID server
 * and validated by botbuilder for real (the rejected-token cases are in auth.test.ts).
 */

const APP_ID = '5f2b8c1e-0d4a-4c59-9a61-1f3c7d2e9b10';
const FOREIGN_TENANT = 'f00dbabe-0000-0000-0000-000000000000';

let app: TestApp;
let openId: OpenIdServer;
let msi: ManagedIdentityServer;
let trap: TrapServer;
/** Every console line written in this process while the app ran (the app logs through context.log too). */
const consoleLines: string[] = [];
const restoreConsole: Array<() => void> = [];
/** Inbound bearer tokens used by the tests: secrets too. */
const inboundTokens: string[] = [];

beforeAll(async () => {
  for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const original = console[level];
    console[level] = (...args: unknown[]) => {
      consoleLines.push(args.map(String).join(' '));
      original(...args);
    };
    restoreConsole.push(() => (console[level] = original));
  }
  [openId, msi, trap] = await Promise.all([startOpenIdServer(), startManagedIdentity(), startTrapServer()]);
  app = await startApp({
    env: (connector) => ({
      ...FAST_QUEUES,
      MicrosoftAppId: APP_ID,
      MicrosoftAppType: 'UserAssignedMsi',
      MicrosoftAppTenantId: TENANT,
      ...msi.env,
      ToBotFromChannelOpenIdMetadataUrl: openId.metadataUrl,
      ToBotFromChannelTokenIssuer: openId.issuer,
      // Only the fake connector's own port is trusted; the trap listens on another port of 127.0.0.1.
      BOT_EXTRA_SERVICE_HOSTS: new URL(connector.url).host,
      ALLOWED_TENANT_IDS: TENANT,
    }),
  });
});

afterAll(async () => {
  await app?.stop();
  await Promise.all([openId?.stop(), msi?.stop(), trap?.stop()]);
  for (const restore of restoreConsole) restore();
});

async function signedPost(activity: { serviceUrl: string }, serviceurl = activity.serviceUrl) {
  const token = await openId.sign({ aud: APP_ID, serviceurl });
  inboundTokens.push(token);
  return app.post('messages', activity, { authorization: `Bearer ${token}` });
}

async function partitionRows(tenantId: string, rowKeyPrefix = '') {
  const rows: Array<Record<string, unknown>> = [];
  const filter = `PartitionKey eq '${tenantId}'`;
  for await (const row of app.table('Conversations').listEntities<Record<string, unknown>>({
    queryOptions: { filter },
  })) {
    if (String(row.rowKey).startsWith(rowKeyPrefix)) rows.push(row);
  }
  return rows;
}

async function rejectedRow(jobId: string) {
  return eventually(
    async () => {
      for await (const row of app.table('RejectedJobs').listEntities<Record<string, unknown>>()) {
        if (row.jobId === jobId) return row;
      }
      return undefined;
    },
    15_000,
    `rejected job ${jobId}`,
  );
}

async function jobRecorded(jobId: string): Promise<boolean> {
  try {
    await app.table('Jobs').getEntity(encodeURIComponent(jobId), 'job');
    return true;
  } catch {
    return false;
  }
}

const authorizedCalls = () => app.connector.calls.filter((c) => c.headers.authorization);

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

describe('oversized bodies are refused before they are parsed', () => {
  const OVER = 300 * 1024; // over the handlers' 256 KiB, under the host's 1 MiB
  /** Not JSON at all: a 400 would mean the handler parsed it. */
  const unparsable = '{"text": "' + 'x'.repeat(OVER);

  function chunked(text: string): ReadableStream<Uint8Array> {
    const bytes = Buffer.from(text);
    let at = 0;
    return new ReadableStream({
      pull(controller) {
        if (at >= bytes.length) return controller.close();
        controller.enqueue(bytes.subarray(at, (at += 16 * 1024)));
      },
    });
  }

  for (const route of ['messages', 'notifications']) {
    it(`POST /api/${route}: 413 for a big body, with or without a Content-Length`, async () => {
      const headers = { 'content-type': 'application/json', 'x-functions-key': FUNCTION_KEY };
      const sized = await fetch(`${app.url}/api/${route}`, { method: 'POST', headers, body: unparsable });
      expect(sized.status).toBe(413);
      const streamed = await fetch(`${app.url}/api/${route}`, {
        method: 'POST',
        headers,
        body: chunked(unparsable),
        duplex: 'half',
      } as RequestInit);
      expect(streamed.status).toBe(413);
    });

    it(`POST /api/${route}: 413 at once for a huge declared length whose body never ends`, async () => {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${app.url}/api/${route}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': String(10 * 1024 ** 3),
            'x-functions-key': FUNCTION_KEY,
          },
        });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        });
        req.on('error', reject);
        req.write('{"type": "message", "text": "');
        // ...and nothing more: an answer can only come from the declared length.
      });
      expect(status).toBe(413);
    });
  }

  it('the handlers themselves refuse a streamed body at the limit, or at once by its length (the real host streams it)', async () => {
    // The handlers run here, in this process, with the app's settings (the host gives them to its worker).
    const saved = Object.fromEntries(Object.keys(app.env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, app.env);
    onTestFinished(() => {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    });
    for (const handler of [handleMessages, handlePostNotification]) {
      for (const declared of [undefined, String(10 * 1024 ** 3)]) {
        let pulled = 0;
        const endless = new ReadableStream<Uint8Array>({
          async pull(controller) {
            pulled += 1;
            // Endless as far as a reader can tell; bounded so a handler that reads it all fails, not hangs.
            if (pulled > 200) return controller.error(new Error('the handler read 12 MB'));
            await new Promise((resolve) => setImmediate(resolve));
            controller.enqueue(new Uint8Array(64 * 1024).fill(0x78));
          },
        });
        const headers = new Headers({ 'content-type': 'application/json', 'x-functions-key': FUNCTION_KEY });
        if (declared) headers.set('content-length', declared);
        const request = new HttpRequest({
          nativeRequest: new Request('http://localhost/api/x', {
            method: 'POST',
            body: endless,
            duplex: 'half',
            headers,
          } as RequestInit),
        } as unknown as ConstructorParameters<typeof HttpRequest>[0]);
        expect(request.headers.get('content-length')).toBe(declared ?? null);
        const res = await handler(request, new InvocationContext());
        expect(res.status).toBe(413);
        // 256 KiB is four or five chunks; with a declared length nothing at all is read.
        expect(pulled).toBeLessThanOrEqual(declared ? 1 : 6);
      }
    }
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
