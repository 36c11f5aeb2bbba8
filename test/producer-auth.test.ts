import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_KEY, TENANT, eventually, startApp, type TestApp } from './support/app.js';
import { customEvents, customMetrics, startIngestion, type Ingestion } from './support/ingestion.js';
import { startOpenIdServer, type OpenIdServer } from './support/openid.js';
import { FAST_QUEUES, seedUser } from './support/pipeline.js';
import { APP_ID_URI, bearer, entraSettings, newProducer, producerToken } from './support/producers.js';

/**
 * Issue 25: producers sign in with Microsoft Entra ID. The running app (local host on Azurite, in its
 * own process so its telemetry goes to a local ingestion endpoint) takes v2.0 tokens for its App ID
 * URI or app ID from an allowed tenant, checked against the tenant's OpenID metadata and keys (the
 * fake Entra ID of test/support/openid.ts); the role decides what a producer may do, and a producer
 * sees and changes only its own jobs. On 06d3f9d every request without the function key got 401
 * from the host, tokens included, and a job recorded nobody as its producer.
 */

const SEND = 'Notifications.Send';
const READ = 'Notifications.Read';
const ADMIN = 'Notifications.Admin';

describe('producers sign in with Microsoft Entra ID', () => {
  let ingestion: Ingestion;
  let openId: OpenIdServer;
  let app: TestApp;
  const a = newProducer();
  const b = newProducer();
  const tokens: string[] = [];
  let user = '';

  const token = async (
    ...args: Parameters<typeof producerToken> extends [unknown, ...infer R] ? R : never
  ) => {
    const t = await producerToken(openId, ...args);
    tokens.push(t);
    return t;
  };
  const job = (id: string) => ({
    id,
    tenantId: TENANT,
    recipients: [{ upn: user }],
    message: { text: 'Build 7 is green' },
  });
  const jobRow = async (id: string) => {
    await app.table('Jobs').createTable(); // nothing may have made it yet
    for await (const row of app.table('Jobs').listEntities({ queryOptions: { filter: `jobId eq '${id}'` } }))
      return row;
    return undefined;
  };
  const send = (method: string, route: string, headers: Record<string, string>, body?: unknown) =>
    fetch(`${app.url}/api/${route}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });

  beforeAll(async () => {
    ingestion = await startIngestion();
    openId = await startOpenIdServer();
    app = await startApp({
      childProcess: true,
      env: {
        ...FAST_QUEUES,
        ...entraSettings(openId),
        APPLICATIONINSIGHTS_CONNECTION_STRING: ingestion.connectionString,
        NODE_EXTRA_CA_CERTS: ingestion.caFile,
        APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true',
        TELEMETRY_LIVE_METRICS: 'false',
      },
    });
    user = (await seedUser(app)).upn!;
  });

  afterAll(async () => {
    await app?.stop();
    await openId?.stop();
    await ingestion?.stop();
  });

  it('answers 401 to a request with neither a key nor a token, and records nothing', async () => {
    const res = await app.post('notifications', job('no-credentials'));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="teams-notifier"/);
    expect(((await res.json()) as { errors: string[] }).errors[0]).toMatch(/Authorization: Bearer/);
    expect(await jobRow('no-credentials')).toBeUndefined();
  });

  it("lets a token with Notifications.Send in, records its producer, and shows it in the job's status", async () => {
    const res = await send('POST', 'notifications', bearer(await token(a, [SEND, READ])), job('entra-a-1'));
    expect(res.status).toBe(202);
    const status = await eventually(async () => {
      const s = await send('GET', `notifications/entra-a-1`, bearer(await token(a, [READ])));
      const body = (await s.json()) as { complete: boolean; producer: unknown; totals: { sent: number } };
      return s.status === 200 && body.complete && body;
    });
    expect(status.producer).toEqual({ kind: 'entra', id: a.appId, appId: a.appId, objectId: a.objectId });
    expect(status.totals.sent).toBe(1);
  });

  it('accepts a token for the App ID URI as well as for the app ID', async () => {
    const res = await send(
      'POST',
      'notifications',
      bearer(await token(a, [SEND], { aud: APP_ID_URI })),
      job('entra-a-uri'),
    );
    expect(res.status).toBe(202);
  });

  it('answers 403 naming the role a token lacks', async () => {
    const post = await send('POST', 'notifications', bearer(await token(a, [READ])), job('read-only'));
    expect(post.status).toBe(403);
    expect(await post.json()).toEqual({
      error: 'RoleRequired',
      errors: ['this needs the app role Notifications.Send, which the token does not carry'],
    });
    const get = await send('GET', 'notifications/entra-a-1', bearer(await token(a, [SEND])));
    expect(get.status).toBe(403);
    expect(((await get.json()) as { errors: string[] }).errors[0]).toContain(READ);
    expect(await jobRow('read-only')).toBeUndefined();
  });

  it('keeps a producer to its own jobs; Notifications.Admin and the key see and change every job', async () => {
    const other = bearer(await token(b, [SEND, READ]));
    for (const [method, body] of [
      ['GET'],
      ['PATCH', { message: { text: 'not yours' } }],
      ['DELETE'],
    ] as const) {
      const res = await send(method, 'notifications/entra-a-1', other, body);
      expect(res.status, method).toBe(403);
      expect(((await res.json()) as { error: string }).error).toBe('NotJobOwner');
    }
    // Reusing another producer's job ID is refused, not merged into its job.
    const reuse = await send('POST', 'notifications', other, job('entra-a-1'));
    expect(reuse.status).toBe(409);
    expect((await send('GET', 'notifications/entra-a-1', bearer(await token(b, [ADMIN])))).status).toBe(200);
    expect((await send('GET', 'notifications/entra-a-1', { 'x-functions-key': FUNCTION_KEY })).status).toBe(
      200,
    );
    const update = await send('PATCH', 'notifications/entra-a-1', bearer(await token(a, [SEND])), {
      message: { text: 'Build 7 is green (updated)' },
    });
    expect(update.status).toBe(202);
  });

  it('refuses forged, expired, foreign-audience, foreign-tenant, v1.0 and malformed tokens with 401 saying why', async () => {
    const cases: Array<[string, Promise<string> | string, RegExp]> = [
      ['forged', token(a, [SEND], {}, { key: 'forged' }), /signature/],
      ['expired', token(a, [SEND], {}, { expiresIn: -600 }), /expired/],
      ['audience', token(a, [SEND], { aud: 'api://another-app' }), /another audience/],
      ['tenant', token(a, [SEND], { tid: 'f8cdef31-a31e-4b4a-93e4-5f571e91255a' }), /tenant f8cdef31/],
      ['v1', token(a, [SEND], { iss: `https://sts.windows.net/${TENANT}/`, ver: '1.0' }), /issuer/],
      ['garbage', 'not-a-jwt', /not a JWT/],
    ];
    for (const [name, pending, why] of cases) {
      const res = await send('POST', 'notifications', bearer(await pending), job(`bad-token-${name}`));
      expect(res.status, name).toBe(401);
      expect(res.headers.get('www-authenticate'), name).toContain('error="invalid_token"');
      expect(((await res.json()) as { errors: string[] }).errors[0], name).toMatch(why);
      expect(await jobRow(`bad-token-${name}`), name).toBeUndefined();
    }
    // The app read the tenant's metadata and keys from the fake Entra ID, never another tenant's.
    expect(openId.requests.some((p) => p.endsWith(`/${TENANT}/v2.0/.well-known/openid-configuration`))).toBe(
      true,
    );
    expect(openId.requests.some((p) => p.includes('f8cdef31'))).toBe(false);
  });

  it("reports the producer in telemetry (its app ID, never a token) and counts each producer's jobs", async () => {
    await app.host.stop(); // flushes metrics and events
    app.host.stop = async () => undefined;
    const accepted = customEvents(ingestion.envelopes, 'JobAccepted').filter(
      (e) => e.properties.jobId === 'entra-a-1',
    );
    expect(accepted.map((e) => e.properties.producer)).toEqual([a.appId]);
    const jobs = customMetrics(ingestion.envelopes, 'ProducerJobs').filter(
      (m) => m.properties.producer === a.appId,
    );
    expect(jobs.reduce((n, m) => n + m.value, 0)).toBe(2);
    const refused = customEvents(ingestion.envelopes, 'ProducerRefused');
    expect(refused.map((e) => e.properties.error)).toContain('RoleRequired');
    const text = JSON.stringify(ingestion.envelopes);
    for (const t of tokens) expect(text).not.toContain(t.split('.')[2]);
    expect(text).not.toContain(FUNCTION_KEY);
  });
});
