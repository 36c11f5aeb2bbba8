/**
 * Proves the test-support modules do what the real tests rely on, with real HTTP, real Azurite
 * and botbuilder's real JWT validation.
 */
import type { ClientRequest } from 'node:http';
import { createServer } from 'node:net';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueServiceClient } from '@azure/storage-queue';
import { TableClient } from '@azure/data-tables';
import { ConfigurationBotFrameworkAuthentication } from 'botbuilder';
import type { Activity } from 'botbuilder';
import { ConnectorClient, MicrosoftAppCredentials } from 'botframework-connector';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort, accepts, onFreePorts } from '../support/ports.js';
import { startAzurite } from '../support/azurite.js';
import { startOpenIdServer } from '../support/openid.js';
import type { OpenIdServer } from '../support/openid.js';
import { startFakeConnector } from '../support/fakeConnector.js';
import type { FakeConnector, FakeConnectorOptions } from '../support/fakeConnector.js';
import { startTrapServer } from '../support/trapServer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('freePort', () => {
  it('returns a port that can be listened on', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    await new Promise((resolve) => server.close(resolve));
  });

  it('stays below the ephemeral range that outgoing connections use, and never repeats a port', async () => {
    const [low] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'))
      .trim()
      .split(/\s+/)
      .map(Number);
    const ports = await Promise.all(Array.from({ length: 400 }, () => freePort()));
    for (const port of ports) expect(port).toBeLessThan(low!);
    expect(new Set(ports).size).toBe(ports.length);
  });
});

describe('onFreePorts', () => {
  it('starts again on fresh ports when another process took one first, and only then', async () => {
    const tried: number[][] = [];
    // The first start finds its port taken, as when a second suite's server got there first.
    const started = await onFreePorts(2, async (ports) => {
      tried.push(ports);
      if (tried.length === 1)
        throw new Error(`listen EADDRINUSE: address already in use 127.0.0.1:${ports[0]}`);
      return ports;
    });
    expect(tried).toHaveLength(2);
    expect(started).toEqual(tried[1]);
    let calls = 0;
    await expect(
      onFreePorts(1, async () => {
        calls++;
        throw new Error('Azurite exited early (code 1)');
      }),
    ).rejects.toThrow('exited early');
    expect(calls).toBe(1);
  });
});

describe('startAzurite', () => {
  async function writeAndRead(connectionString: string) {
    const queue = QueueServiceClient.fromConnectionString(connectionString).getQueueClient('selftest');
    const table = TableClient.fromConnectionString(connectionString, 'selftest', {
      allowInsecureConnection: true,
    });
    return {
      queue,
      table,
      async write() {
        await queue.create();
        await queue.sendMessage('hello');
        await table.createTable();
        await table.createEntity({ partitionKey: 'p', rowKey: 'r', value: 42 });
      },
      async peek() {
        return (await queue.peekMessages()).peekedMessageItems[0]?.messageText;
      },
    };
  }

  it.concurrent('in memory: queue and table work, restart empties them, stop frees the ports', async () => {
    const azurite = await startAzurite();
    try {
      expect(azurite.connectionString).toContain(
        `QueueEndpoint=http://127.0.0.1:${azurite.queuePort}/devstoreaccount1`,
      );
      const store = await writeAndRead(azurite.connectionString);
      await store.write();
      expect(await store.peek()).toBe('hello');
      expect((await store.table.getEntity('p', 'r')).value).toBe(42);

      await azurite.restart();
      expect(await store.queue.exists()).toBe(false);
    } finally {
      await azurite.stop();
    }
    expect(await accepts(azurite.queuePort)).toBe(false);
    expect(await accepts(azurite.tablePort)).toBe(false);
    await azurite.stop(); // idempotent
  });

  it.concurrent('with a location: data survives restart on the same ports', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'azurite-selftest-'));
    const azurite = await startAzurite({ location: dir });
    try {
      const store = await writeAndRead(azurite.connectionString);
      await store.write();
      await azurite.restart();
      expect(await store.peek()).toBe('hello');
      expect((await store.table.getEntity('p', 'r')).value).toBe(42);
    } finally {
      await azurite.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('startOpenIdServer + botbuilder channel-token validation', () => {
  const APP_ID = 'app-id';
  const SERVICE_URL = 'https://smba.trafficmanager.net/amer/';
  const activity = {
    type: 'message',
    channelId: 'msteams',
    serviceUrl: SERVICE_URL,
    conversation: { id: 'a:1x' },
    from: { id: '29:user' },
    recipient: { id: `28:${APP_ID}` },
  } as Activity;

  let openid: OpenIdServer;
  let auth: ConfigurationBotFrameworkAuthentication;
  // Every host any HTTP client in this process contacts while these tests run.
  const hosts: string[] = [];
  const onHttp = (msg: unknown) => hosts.push((msg as { request: ClientRequest }).request.host);
  const onUndici = (msg: unknown) =>
    hosts.push(new URL((msg as { request: { origin: string } }).request.origin).hostname);

  beforeAll(async () => {
    subscribe('http.client.request.start', onHttp);
    subscribe('undici:request:create', onUndici);
    // botbuilder console.errors every rejected token; keep the output readable.
    vi.spyOn(console, 'error').mockImplementation(() => {});
    openid = await startOpenIdServer();
    auth = new ConfigurationBotFrameworkAuthentication({
      MicrosoftAppId: APP_ID,
      MicrosoftAppPassword: 'x',
      MicrosoftAppType: 'MultiTenant',
      ToBotFromChannelOpenIdMetadataUrl: openid.metadataUrl,
      ToBotFromChannelTokenIssuer: openid.issuer,
    });
  });
  afterAll(async () => {
    unsubscribe('http.client.request.start', onHttp);
    unsubscribe('undici:request:create', onUndici);
    vi.restoreAllMocks();
    await openid.stop();
  });

  const channelToken = (claims: Record<string, unknown> = {}, opts?: Parameters<OpenIdServer['sign']>[1]) =>
    openid.sign({ aud: APP_ID, serviceurl: SERVICE_URL, ...claims }, opts);

  it('accepts a good token without contacting any non-local host', async () => {
    const result = await auth.authenticateRequest(activity, `Bearer ${await channelToken()}`);
    expect(result.claimsIdentity.isAuthenticated).toBe(true);
    expect(result.claimsIdentity.getClaimValue('aud')).toBe(APP_ID);
    expect(openid.requests.some((p) => p.endsWith('/.well-known/openidconfiguration'))).toBe(true);
    expect(openid.requests.some((p) => p.endsWith('/keys'))).toBe(true);
    expect(hosts.length).toBeGreaterThan(0); // the guard does see botbuilder's fetches
    expect(new Set(hosts)).toEqual(new Set(['127.0.0.1']));
  });

  it('tolerates 5 minutes of clock skew, like botbuilder does', async () => {
    const token = await channelToken({}, { expiresIn: -120 });
    await expect(auth.authenticateRequest(activity, `Bearer ${token}`)).resolves.toBeTruthy();
  });

  // Note the two non-AuthenticationErrors (raw jsonwebtoken errors): CloudAdapter.process answers
  // those with 500, not 401.
  const rejected: { name: string; token: () => Promise<string>; on?: Partial<Activity>; error: RegExp }[] = [
    {
      name: 'forged signature',
      token: () => channelToken({}, { key: 'forged' }),
      error: /invalid signature/,
    },
    {
      name: 'expired beyond the tolerance',
      token: () => channelToken({}, { expiresIn: -600 }),
      error: /expired/,
    },
    { name: 'not yet valid', token: () => channelToken({}, { notBefore: '10m' }), error: /jwt not active/ },
    { name: 'wrong audience', token: () => channelToken({ aud: 'other-app' }), error: /Invalid AppId/ },
    {
      name: 'wrong issuer',
      token: () => channelToken({ iss: 'https://evil.example.com' }),
      error: /No valid identity/,
    },
    {
      name: 'serviceurl not matching the activity',
      token: () => channelToken({ serviceurl: 'https://evil.example.com/' }),
      error: /ServiceUrl claim do not match/,
    },
    {
      name: 'key not endorsed for the channel',
      token: () => channelToken(),
      on: { channelId: 'webchat' },
      error: /endorsement/,
    },
    {
      name: 'ver + appid other than aud (taken for a skill token)',
      token: () => channelToken({ ver: '1.0', appid: 'other' }),
      error: /SkillValidation/,
    },
  ];
  it.each(rejected)('rejects: $name', async ({ token, on, error }) => {
    const header = `Bearer ${await token()}`;
    await expect(auth.authenticateRequest({ ...activity, ...on }, header)).rejects.toThrow(error);
    expect(new Set(hosts)).toEqual(new Set(['127.0.0.1']));
  });
});

describe('startFakeConnector', () => {
  const TENANT = 'tenant-1';
  let fake: FakeConnector;
  const started: FakeConnector[] = [];
  async function start(opts?: FakeConnectorOptions) {
    const f = await startFakeConnector(opts);
    started.push(f);
    return f;
  }
  beforeAll(async () => {
    fake = await start();
  });
  afterAll(async () => {
    await Promise.all(started.map((f) => f.stop()));
  });

  async function call(f: FakeConnector, method: string, path: string, body?: unknown, headers = {}) {
    const res = await fetch(new URL(path, f.url), {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  }
  const createBody = (user: string, tenant = TENANT) => ({
    bot: { id: '28:bot' },
    members: [{ id: user }],
    isGroup: false,
    tenantId: tenant,
    channelData: { tenant: { id: tenant } },
  });
  const create = (f: FakeConnector, user: string, tenant = TENANT) =>
    call(f, 'POST', 'v3/conversations', createBody(user, tenant));
  const send = (f: FakeConnector, conversationId: string, text = 'hi', headers = {}) =>
    call(
      f,
      'POST',
      `v3/conversations/${encodeURIComponent(conversationId)}/activities`,
      { type: 'message', text },
      headers,
    );

  it('creates stable 1:1 conversations and accepts activities', async () => {
    fake.reset();
    const first = await create(fake, '29:alice');
    expect(first.status).toBe(201);
    expect(first.body.id).toMatch(/^a:/);
    expect((await create(fake, '29:alice')).body.id).toBe(first.body.id);
    expect((await create(fake, '29:alice', 'tenant-2')).body.id).not.toBe(first.body.id);
    expect(fake.conversationIdFor(TENANT, '29:alice', '28:bot')).toBe(first.body.id);
    expect(fake.conversations.get(first.body.id)?.createCount).toBe(2);

    const sent = await send(fake, first.body.id, 'hello', { authorization: 'Bearer abc' });
    expect(sent.status).toBe(201);
    expect(fake.accepted).toEqual([
      expect.objectContaining({
        conversationId: first.body.id,
        activityId: sent.body.id,
        body: { type: 'message', text: 'hello' },
      }),
    ]);
    const last = fake.calls.at(-1)!;
    expect(last).toMatchObject({
      method: 'POST',
      route: 'sendActivity',
      status: 201,
      conversationId: first.body.id,
    });
    expect(last.headers.authorization).toBe('Bearer abc');
    expect(fake.byStatus).toEqual({ 201: 4 });
  });

  it('answers 404 ConversationNotFound for conversations it does not know, unless registered', async () => {
    fake.reset();
    const res = await send(fake, 'a:unknown');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'ConversationNotFound', message: 'Conversation not found.' } });
    fake.registerConversation('a:unknown', { tenantId: TENANT });
    expect((await send(fake, 'a:unknown')).status).toBe(201);
  });

  it('refuses users it does not know when configured to', async () => {
    const f = await start({ knownMembers: ['29:known'] });
    expect((await create(f, '29:known')).status).toBe(201);
    const res = await create(f, '29:stranger');
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('BotNotInConversationRoster');
    expect((await call(f, 'POST', 'v3/conversations', { ...createBody('29:x'), members: [] })).status).toBe(
      400,
    );
  });

  it('serves rosters: members, one member, paged members with continuation', async () => {
    fake.reset();
    const roster = Array.from({ length: 5 }, (_, i) => ({
      id: `29:u${i}`,
      objectId: `aad-${i}`,
      name: `User ${i}`,
    }));
    fake.setRoster('19:team@thread.tacv2', roster);
    const team = encodeURIComponent('19:team@thread.tacv2');
    expect((await call(fake, 'GET', `v3/conversations/${team}/members`)).body).toEqual(roster);
    expect((await call(fake, 'GET', `v3/conversations/${team}/members/aad-3`)).body).toEqual(roster[3]);
    expect((await call(fake, 'GET', `v3/conversations/${team}/members/nobody`)).status).toBe(404);

    const seen: unknown[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const q = `pageSize=2${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`;
      const page = await call(fake, 'GET', `v3/conversations/${team}/pagedmembers?${q}`);
      seen.push(...page.body.members);
      token = page.body.continuationToken;
      pages++;
    } while (token);
    expect(pages).toBe(3);
    expect(seen).toEqual(roster);
  });

  it('throttles 7 sends per conversation per second with Retry-After', async () => {
    fake.reset();
    const { body } = await create(fake, '29:alice');
    const statuses = [];
    for (let i = 0; i < 8; i++) statuses.push(await send(fake, body.id));
    expect(statuses.map((r) => r.status)).toEqual([201, 201, 201, 201, 201, 201, 201, 429]);
    expect(statuses[7]!.headers.get('retry-after')).toBe('1');
    expect(statuses[7]!.body.error.code).toBe('TooManyRequests');
    expect(fake.calls.at(-1)?.fault).toBe('throttle');
  });

  it('throttles per app per tenant, sliding, and can omit Retry-After', async () => {
    const f = await start({
      rateLimits: { perAppTenant: [{ limit: 3, windowMs: 500 }], perConversation: [], retryAfter: false },
    });
    const jwtFor = (appid: string) =>
      `Bearer x.${Buffer.from(JSON.stringify({ appid })).toString('base64url')}.y`;
    for (const id of ['c1', 'c2', 'c3', 'c4']) f.registerConversation(id, { tenantId: TENANT });
    f.registerConversation('c5', { tenantId: 'tenant-2' });
    const a = { authorization: jwtFor('bot-a') };
    for (const id of ['c1', 'c2', 'c3']) expect((await send(f, id, 'x', a)).status).toBe(201);
    const limited = await send(f, 'c4', 'x', a);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBeNull();
    // Other tenant, or other app: separate budgets.
    expect((await send(f, 'c5', 'x', a)).status).toBe(201);
    expect((await send(f, 'c4', 'x', { authorization: jwtFor('bot-b') })).status).toBe(201);
    await sleep(520);
    expect((await send(f, 'c4', 'x', a)).status).toBe(201);
  });

  it('plays scripted faults in order, then answers normally', async () => {
    const f = await start({ rateLimits: false });
    const { body } = await create(f, '29:alice');
    f.script('send', { status: 429, retryAfter: 2 }, 2);
    f.script('send', { status: 403, code: 'ConversationBlockedByUser' });
    for (const status of [412, 413, 400, 500, 502, 503, 504]) f.script('send', { status });
    f.script('createConversation', { status: 503 });
    expect(f.pendingScript()).toBe(11);

    const got = [];
    for (let i = 0; i < 11; i++) got.push(await send(f, body.id));
    expect(got.map((r) => r.status)).toEqual([429, 429, 403, 412, 413, 400, 500, 502, 503, 504, 201]);
    expect(got[0]!.headers.get('retry-after')).toBe('2');
    expect(got.map((r) => r.body?.error?.code).slice(2, 10)).toEqual([
      'ConversationBlockedByUser',
      'PreconditionFailed',
      'MessageSizeTooBig',
      'BadArgument',
      'InternalServerError',
      'BadGateway',
      'ServiceUnavailable',
      'GatewayTimeout',
    ]);
    expect(f.accepted).toHaveLength(1);
    expect((await create(f, '29:bob')).status).toBe(503);
    expect(f.pendingScript()).toBe(0);
  });

  it('hangs (client times out), and can deliver late or deliver despite an error', async () => {
    const f = await start({ rateLimits: false });
    const { body } = await create(f, '29:alice');
    const url = new URL(`v3/conversations/${encodeURIComponent(body.id)}/activities`, f.url);
    const post = () =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'message', text: 'slow' }),
        signal: AbortSignal.timeout(50),
      });

    f.script('send', { hangMs: 150 });
    await expect(post()).rejects.toThrow();
    f.script('send', { hangMs: 100, then: 'deliver' });
    await expect(post()).rejects.toThrow();
    await sleep(200);
    expect(f.accepted).toHaveLength(1); // delivered although the client gave up
    expect(f.byStatus[0]).toBe(1); // the dropped one

    f.script('send', { status: 504, deliver: true });
    expect((await send(f, body.id)).status).toBe(504);
    expect(f.accepted).toHaveLength(2);
  });

  it('injects seeded random faults reproducibly', async () => {
    const faults = {
      seed: 42,
      p5xx: 0.2,
      p429WithRetryAfter: 0.1,
      p429NoRetryAfter: 0.05,
      p403: 0.05,
      p404: 0.05,
    };
    async function run() {
      const f = await start({ rateLimits: false });
      f.registerConversation('a:c', { tenantId: TENANT });
      f.setRandomFaults(faults);
      const statuses = [];
      for (let i = 0; i < 200; i++) statuses.push((await send(f, 'a:c')).status);
      return statuses;
    }
    const [a, b] = [await run(), await run()];
    expect(a).toEqual(b);
    const count = (s: number) => a.filter((x) => x === s).length;
    expect(count(201)).toBeGreaterThan(60);
    expect(count(429)).toBeGreaterThan(10);
    expect(a.filter((s) => s >= 500).length).toBeGreaterThan(20);
    expect(count(403) + count(404)).toBeGreaterThan(5);
  });

  it('honours a regional base path like a real serviceUrl', async () => {
    const f = await start({ basePath: '/amer/' });
    expect(f.url).toMatch(/\/amer\/$/);
    expect((await create(f, '29:alice')).status).toBe(201);
    expect((await call(f, 'POST', '/v3/conversations', createBody('29:alice'))).status).toBe(404);
  });

  it("works with botframework-connector's own ConnectorClient", async () => {
    fake.reset();
    const client = new ConnectorClient(MicrosoftAppCredentials.Empty, { baseUri: fake.url });
    const conv = await client.conversations.createConversation({
      bot: { id: '28:bot', name: 'bot' },
      members: [{ id: '29:alice', name: 'Alice' }],
      isGroup: false,
      tenantId: TENANT,
      channelData: { tenant: { id: TENANT } },
    });
    const sent = await client.conversations.sendToConversation(conv.id, {
      type: 'message',
      text: 'hi',
    } as Activity);
    expect(sent.id).toBe(fake.accepted[0]?.activityId);
    fake.setRoster(conv.id, [{ id: '29:alice', name: 'Alice' }]);
    const paged = await client.conversations.getConversationPagedMembers(conv.id, {
      pageSize: 50,
      continuationToken: undefined as unknown as string, // typed as required, optional on the wire
    });
    expect(paged.members?.map((m) => m.id)).toEqual(['29:alice']);
    await expect(
      client.conversations.sendToConversation('a:nope', { type: 'message' } as Activity),
    ).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  // Its speed is the benchmarks' business (bench/RESULTS.md row 1 runs through it), not a timed test's.
  it('accepts 1000 sends with 50 in flight without recording the calls', async () => {
    const f = await start({ rateLimits: false, recordCalls: false });
    f.registerConversation('a:bench', { tenantId: TENANT });
    let next = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next++ < 1000) await send(f, 'a:bench');
      }),
    );
    expect(f.accepted).toHaveLength(1000);
    expect(f.calls).toHaveLength(0);
  });
});

describe('startTrapServer', () => {
  it('records method, url, headers and body, and answers 200 {}', async () => {
    const trap = await startTrapServer();
    try {
      const res = await fetch(new URL('v3/conversations?x=1', trap.url), {
        method: 'POST',
        headers: { authorization: 'Bearer secret' },
        body: 'payload',
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({});
      expect(trap.requests).toEqual([
        expect.objectContaining({ method: 'POST', url: '/v3/conversations?x=1', body: 'payload' }),
      ]);
      expect(trap.requests[0]?.headers.authorization).toBe('Bearer secret');
    } finally {
      await trap.stop();
    }
  });
});
