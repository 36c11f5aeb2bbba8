/**
 * Proves the Teams-like fake connector (test/support/fakeConnector.ts) does what the real tests rely
 * on, over real HTTP and with botframework-connector's own client.
 */
import type { Activity } from 'botbuilder';
import { ConnectorClient, MicrosoftAppCredentials } from 'botframework-connector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeConnector } from '../support/fakeConnector.js';
import type { FakeConnector, FakeConnectorOptions } from '../support/fakeConnector.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
