import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_KEY, TENANT, eventually, startApp, type TestApp } from './support/app.js';
import { openApiChecker, type OpenApiChecker } from './support/openapiCheck.js';
import { startOpenIdServer, type OpenIdServer } from './support/openid.js';
import { FAST_QUEUES, seedUser } from './support/pipeline.js';
import { bearer, entraSettings, newProducer, producerToken } from './support/producers.js';

/**
 * Issue 25: the OpenAPI 3.1 document the app serves at GET /api/openapi.json describes every answer
 * it gives. The document passes the 3.1 meta-schema; every answer below, from the running app, is
 * checked against it (status declared, declared headers present, body valid against the declared
 * schema); and the last test fails if any response the document declares was never exercised. On
 * 06d3f9d there was no document (404).
 */

const key = { 'x-functions-key': FUNCTION_KEY };
const read = ['Notifications.Read'];

describe('the OpenAPI document against the running app', () => {
  let openId: OpenIdServer;
  let app: TestApp;
  let api: OpenApiChecker;
  let upn = '';
  const problems: string[] = [];

  /** Sends a request and checks its answer against the document. */
  async function call(method: string, route: string, headers: Record<string, string> = {}, body?: unknown) {
    const url = `${app.url}/api/${route}`;
    const answer = await fetch(url, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    problems.push(...(await api.check(method, url, answer)).map((p) => `${method} ${route}: ${p}`));
    return answer;
  }
  const job = (id: string, text = 'Build 9 is green') => ({
    id,
    tenantId: TENANT,
    recipients: [{ upn }],
    message: { text },
  });
  const token = async (roles: string[], producer = newProducer()) =>
    bearer(await producerToken(openId, producer, roles));

  beforeAll(async () => {
    openId = await startOpenIdServer();
    app = await startApp({
      env: { ...FAST_QUEUES, ...entraSettings(openId), PRODUCER_JOBS_PER_MINUTE: '4' },
    });
    upn = (await seedUser(app)).upn!;
    const served = await fetch(`${app.url}/api/openapi.json`);
    expect(served.status).toBe(200);
    api = openApiChecker((await served.clone().json()) as never);
    problems.push(...(await api.check('GET', `${app.url}/api/openapi.json`, served)));
  });

  afterAll(async () => {
    await app?.stop();
    await openId?.stop();
  });

  it('is a valid OpenAPI 3.1 document whose job schema is the contract file itself', async () => {
    expect(await api.documentErrors()).toEqual([]);
    const doc = (await (await fetch(`${app.url}/api/openapi.json`)).json()) as {
      openapi: string;
      components: { schemas: { NotificationJob: unknown } };
    };
    expect(doc.openapi).toBe('3.1.0');
    const { default: contract } = await import('../shared/jobs/notification-job.v1.schema.json', {
      with: { type: 'json' },
    });
    expect(doc.components.schemas.NotificationJob).toEqual(contract);
  });

  it('POST /notifications: 202, 400, 401, 403, 409, 413, 429 as documented', async () => {
    expect((await call('POST', 'notifications', key, job('oa-1'))).status).toBe(202);
    expect(
      (await call('POST', 'notifications', key, { tenantId: TENANT, recipients: [{ upn }] })).status,
    ).toBe(400);
    expect((await call('POST', 'notifications', {}, job('oa-anon'))).status).toBe(401);
    expect((await call('POST', 'notifications', await token(read), job('oa-reader'))).status).toBe(403);
    expect((await call('POST', 'notifications', key, job('oa-1', 'other content'))).status).toBe(409);
    expect((await call('POST', 'notifications', key, job('oa-big', 'x'.repeat(300 * 1024)))).status).toBe(
      413,
    );
    const flooder = newProducer();
    const statuses = [];
    for (let i = 0; i < 5; i++)
      statuses.push(
        (
          await call(
            'POST',
            'notifications',
            await token(['Notifications.Send'], flooder),
            job(`oa-flood-${i}`),
          )
        ).status,
      );
    expect(statuses).toEqual([202, 202, 202, 202, 429]);
  });

  it('GET /notifications/{id}: 200, 400, 401, 403, 404 as documented', async () => {
    await eventually(
      async () =>
        ((await (await app.get('notifications/oa-1', key)).json()) as { complete: boolean }).complete,
    );
    expect((await call('GET', 'notifications/oa-1', key)).status).toBe(200);
    expect((await call('GET', 'notifications/oa-1?status=bogus', key)).status).toBe(400);
    expect((await call('GET', 'notifications/oa-1')).status).toBe(401);
    expect((await call('GET', 'notifications/oa-1', await token(read))).status).toBe(403); // another producer's
    expect((await call('GET', 'notifications/oa-none', key)).status).toBe(404);
  });

  it('PATCH and DELETE /notifications/{id}: 202, 400, 401, 403, 404, 409, 413 as documented', async () => {
    const send = await token(['Notifications.Send']);
    expect(
      (await call('PATCH', 'notifications/oa-1', key, { message: { text: 'Build 9 is green (v2)' } })).status,
    ).toBe(202);
    expect((await call('PATCH', 'notifications/oa-1', key, {})).status).toBe(400);
    expect((await call('PATCH', 'notifications/oa-1', {}, { message: { text: 'x' } })).status).toBe(401);
    expect((await call('PATCH', 'notifications/oa-1', send, { message: { text: 'x' } })).status).toBe(403);
    expect((await call('PATCH', 'notifications/oa-none', key, { message: { text: 'x' } })).status).toBe(404);
    expect(
      (await call('PATCH', 'notifications/oa-1', key, { message: { text: 'y'.repeat(70 * 1024) } })).status,
    ).toBe(413);
    expect((await call('POST', 'notifications', key, job('oa-2'))).status).toBe(202);
    expect((await call('DELETE', 'notifications/oa-2', key)).status).toBe(202);
    expect(
      (await call('PATCH', 'notifications/oa-2', key, { message: { text: 'after the recall' } })).status,
    ).toBe(409);
    expect((await call('DELETE', 'notifications/-not-an-id', key)).status).toBe(400);
    expect((await call('DELETE', 'notifications/oa-1')).status).toBe(401);
    expect((await call('DELETE', 'notifications/oa-1', send)).status).toBe(403);
    expect((await call('DELETE', 'notifications/oa-none', key)).status).toBe(404);
    // A job accepted before jobs' content was kept (its content row is gone) cannot be recalled.
    expect((await call('POST', 'notifications', key, job('oa-3'))).status).toBe(202);
    // Once delivered (the intake no longer writes the content), its content row goes.
    await eventually(
      async () =>
        ((await (await app.get('notifications/oa-3', key)).json()) as { complete: boolean }).complete,
    );
    const jobs = app.table('Jobs');
    const row = await eventually(async () => {
      for await (const r of jobs.listEntities({
        queryOptions: { filter: "RowKey eq 'content' and jobId eq 'oa-3'" },
      }))
        return r;
      return undefined;
    });
    await jobs.deleteEntity(row.partitionKey!, row.rowKey!);
    expect((await call('DELETE', 'notifications/oa-3', key)).status).toBe(409);
  });

  it('GET /health: 200, and 503 once storage is gone', async () => {
    expect((await call('GET', 'health')).status).toBe(200);
    await app.azurite.stop();
    app.azurite.stop = async () => undefined;
    // The report is cached for 5 s: the next one after that sees storage gone.
    await eventually(async () => (await fetch(`${app.url}/api/health`)).status === 503, 20_000);
    expect((await call('GET', 'health')).status).toBe(503);
  });

  it('would catch an answer that breaks the document', async () => {
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
      new Response(JSON.stringify(body), {
        status,
        headers: { 'content-type': 'application/json', ...headers },
      });
    const url = `${app.url}/api/notifications`;
    expect(await api.check('POST', url, json(202, { jobId: 'x' }, { location: 'l' }))).toEqual([
      expect.stringMatching(/^202 body: /),
    ]);
    expect(
      await api.check('POST', url, json(202, { jobId: 'x', tenantId: 't', statusUrl: 's', recipients: 1 })),
    ).toEqual(['202 lacks the Location header']);
    expect(await api.check('POST', url, json(418, {}))).toEqual(['POST /notifications does not declare 418']);
    expect(await api.check('GET', `${url}/x`, json(404, { error: 'NotFound' }))).toEqual([
      expect.stringMatching(/^404 body: /),
    ]);
  });

  it('answered everything as the document says, and every declared response was exercised', () => {
    expect(problems).toEqual([]);
    expect(api.declared.length).toBeGreaterThan(25);
    expect(api.missing()).toEqual([]);
  });
});
