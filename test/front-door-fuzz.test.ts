import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../shared/config.js';
import { checkJob } from '../shared/jobs/intake.js';
import { FUNCTION_KEY, TENANT, startApp, type TestApp } from './support/app.js';
import { openApiChecker, type OpenApiChecker } from './support/openapiCheck.js';
import { startOpenIdServer, type OpenIdServer } from './support/openid.js';
import { seedUser } from './support/pipeline.js';
import { APP_ID, bearer, entraSettings, newProducer, producerToken } from './support/producers.js';

/**
 * Issue 25: bad input at the front door, fuzzed from the OpenAPI document (fast-check). Jobs are
 * mutated property by property as the document's job schema describes them (wrong types, missing
 * required fields, unknown fields, oversized values and bodies), requests carry forged, expired,
 * foreign-audience or foreign-tenant tokens and wrong keys, and job IDs and tenants in the path are
 * random. Every answer must be one the document declares for that operation, a 4xx carrying a
 * reason and at least one message, unless the contract itself (the oracle: the app's own checkJob)
 * accepts the job, which must then be answered 202 and recorded: nothing refused is recorded,
 * nothing valid is lost. FUZZ_SEED replays a run.
 */

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const key = { 'x-functions-key': FUNCTION_KEY };
type Schema = { type?: string; properties?: Record<string, Schema>; required?: string[]; maxLength?: number };

describe(`front door fuzzing (FUZZ_SEED=${SEED})`, () => {
  let openId: OpenIdServer;
  let app: TestApp;
  let api: OpenApiChecker;
  let jobSchema: Schema;
  let upn = '';
  const problems: string[] = [];

  async function call(method: string, route: string, headers: Record<string, string>, body?: string) {
    const url = `${app.url}/api/${route}`;
    const answer = await fetch(url, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
    problems.push(...(await api.check(method, url, answer)).map((p) => `${method} ${route}: ${p}`));
    return answer;
  }
  const jobRows = async (id?: string) => {
    const only = id === undefined ? '' : ` and jobId eq '${id.replace(/'/g, "''")}'`;
    let n = 0;
    for await (const _ of app
      .table('Jobs')
      .listEntities({ queryOptions: { filter: `RowKey eq 'job'${only}` } }))
      n++;
    return n;
  };

  beforeAll(async () => {
    openId = await startOpenIdServer();
    app = await startApp({
      env: {
        ...entraSettings(openId),
        PRODUCER_JOBS_PER_MINUTE: '100000',
        PRODUCER_RECIPIENTS_PER_HOUR: '10000000',
      },
    });
    upn = (await seedUser(app)).upn!;
    const doc = (await (await fetch(`${app.url}/api/openapi.json`)).json()) as {
      components: { schemas: { NotificationJob: Schema } };
    };
    api = openApiChecker(doc as never);
    jobSchema = doc.components.schemas.NotificationJob;
    await app.table('Jobs').createTable();
  });

  afterAll(async () => {
    await app?.stop();
    await openId?.stop();
  });

  /** Values of the wrong kind for a schema, and values too big for it. */
  const wrongFor = (schema: Schema): fc.Arbitrary<unknown> => {
    const others = fc.oneof(
      fc.integer(),
      fc.constant(null),
      fc.boolean(),
      fc.array(fc.string(), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.string(), { maxKeys: 2 }),
      fc.string({ maxLength: 40 }),
    );
    const tooLong = fc.constant('x'.repeat((schema.maxLength ?? 30_000) + 1));
    return schema.type === 'string' ? fc.oneof(others, tooLong) : others;
  };

  const mutatedJob = () =>
    fc.tuple(fc.nat(), fc.nat(), fc.nat()).chain(([which, how, n]) => {
      const props = Object.keys(jobSchema.properties ?? {});
      const name = props[which % props.length]!;
      const base: Record<string, unknown> = {
        id: `fz-${SEED}-${n}-${which}-${how}`,
        tenantId: TENANT,
        recipients: [{ upn }],
        message: { text: 'fuzzed' },
      };
      const required = jobSchema.required ?? [];
      return fc.oneof(
        wrongFor(jobSchema.properties![name]!).map((value) => ({ ...base, [name]: value })),
        fc
          .constant(required[how % required.length]!)
          .map((drop) => Object.fromEntries(Object.entries(base).filter(([k]) => k !== drop))),
        fc.string({ minLength: 1, maxLength: 12 }).map((extra) => ({ ...base, [`x${extra}`]: 1 })),
        fc.constant(base),
      );
    });

  it('answers every mutated job with a documented 4xx and records nothing, or accepts it whole when the contract does', async () => {
    const jobs = fc.sample(mutatedJob(), { seed: SEED, numRuns: 60 });
    let accepted = 0;
    for (const job of jobs) {
      const text = JSON.stringify(job);
      const expected = await checkJob(text, loadConfig(app.env)); // the app's own settings
      const res = await call('POST', 'notifications', key, text);
      // A well-formed ID can be looked up; any other cannot have been recorded (the count below).
      const id = typeof job.id === 'string' && /^[\w.:-]{1,100}$/.test(job.id) ? job.id : undefined;
      if (expected.ok) {
        accepted++;
        expect([text.slice(0, 200), res.status]).toEqual([text.slice(0, 200), 202]);
        if (id) expect(await jobRows(id)).toBe(1);
      } else {
        expect([text.slice(0, 200), res.status]).toEqual([text.slice(0, 200), 400]);
        const body = (await res.json()) as { error: string; errors: string[] };
        expect(body.error).toBe(expected.reason);
        if (id) expect(await jobRows(id)).toBe(0);
      }
    }
    expect(await jobRows()).toBe(accepted);
    expect(problems).toEqual([]);
  });

  it('refuses huge, truncated and non-JSON bodies with a documented 4xx', async () => {
    const bodies = fc.sample(
      fc.oneof(
        fc.string({ maxLength: 200 }),
        fc.constant('{"tenantId":'),
        fc.constant('x'.repeat(300 * 1024)),
        fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')),
      ),
      { seed: SEED + 1, numRuns: 30 },
    );
    for (const body of bodies) {
      const res = await call('POST', 'notifications', key, body);
      expect([body.slice(0, 80), res.status >= 400 && res.status < 500]).toEqual([body.slice(0, 80), true]);
    }
    expect(problems).toEqual([]);
  });

  it('refuses forged, expired, foreign and malformed credentials on every route with a documented 401 or 403', async () => {
    const producer = newProducer();
    const bad = [
      () => producerToken(openId, producer, ['Notifications.Send'], {}, { key: 'forged' }),
      () => producerToken(openId, producer, ['Notifications.Send'], {}, { expiresIn: -3600 }),
      () => producerToken(openId, producer, ['Notifications.Send'], {}, { notBefore: 3600 }),
      () => producerToken(openId, producer, ['Notifications.Send'], { aud: `api://botid-${APP_ID}-other` }),
      () =>
        producerToken(openId, producer, ['Notifications.Send'], {
          tid: '9b0c3c7e-0000-4000-8000-000000000001',
        }),
      () =>
        producerToken(openId, producer, ['Notifications.Send'], {
          iss: 'https://login.microsoftonline.com/common/v2.0',
        }),
      async () => 'eyJhbGciOiJub25lIn0.eyJ0aWQiOiI3MmY5ODhiZi04NmYxLTQxYWYtOTFhYi0yZDdjZDAxMWRiNDcifQ.',
    ];
    const routes: Array<[string, string, string | undefined]> = [
      [
        'POST',
        'notifications',
        JSON.stringify({ tenantId: TENANT, recipients: [{ upn }], message: { text: 'x' } }),
      ],
      ['GET', 'notifications/any-job', undefined],
      ['PATCH', 'notifications/any-job', JSON.stringify({ message: { text: 'x' } })],
      ['DELETE', 'notifications/any-job', undefined],
    ];
    const keys = fc.sample(
      fc
        .string({ minLength: 1, maxLength: 64 })
        .filter((k) => k !== FUNCTION_KEY && /^[\x21-\x7e]+$/.test(k)),
      { seed: SEED + 2, numRuns: 8 },
    );
    for (const [method, route, body] of routes) {
      for (const make of bad) {
        const res = await call(method, route, bearer(await make()), body);
        expect([method, res.status]).toEqual([method, 401]);
      }
      for (const k of keys)
        expect((await call(method, route, { 'x-functions-key': k }, body)).status).toBe(401);
    }
    expect(problems).toEqual([]);
  });

  it('answers random job IDs and tenants in the path with a documented status', async () => {
    const refs = fc.sample(
      fc.tuple(fc.string({ minLength: 1, maxLength: 120 }), fc.option(fc.string({ maxLength: 80 }))),
      { seed: SEED + 3, numRuns: 40 },
    );
    for (const [id, tenant] of refs) {
      const query = tenant === null ? '' : `?tenantId=${encodeURIComponent(tenant)}`;
      const route = `notifications/${encodeURIComponent(id)}${query}`;
      for (const method of ['GET', 'DELETE']) {
        const res = await call(method, route, key);
        expect([id, tenant, res.status >= 400 && res.status < 500]).toEqual([id, tenant, true]);
      }
    }
    expect(problems).toEqual([]);
  });
});
