import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { TableClient } from '@azure/data-tables';
import { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appChecks, failureCode, runChecks, type HealthReport } from '../functions/health/checks.js';
import { configurationProblems } from '../functions/health/configuration.js';
import { TABLES } from '../shared/container.js';
import { CALLBACKS_QUEUE, JOBS_QUEUE, LANE_QUEUES, poisonQueueOf } from '../shared/queues.js';
import { TENANT, eventually, startApp, type TestApp } from './support/app.js';

/**
 * Issue 21, item 5: GET /api/health against real Azurite on the local host, without a function key:
 * 200 with every check when the configuration is complete and every queue and table answers; 503
 * naming what is missing or failing; never a secret or a tenant ID in the answer.
 */

const QUEUES = [
  ...[JOBS_QUEUE, ...Object.values(LANE_QUEUES)].flatMap((q) => [q, poisonQueueOf(q)]),
  CALLBACKS_QUEUE,
];
const PASSWORD = 'health-test-password-never-shown';

async function health(app: TestApp): Promise<{ status: number; text: string; body: HealthReport }> {
  const res = await app.get('health'); // no x-functions-key
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as HealthReport };
}

/** Polls until the answer has `status` (results are cached for a few seconds). */
const healthWith = (app: TestApp, status: number) =>
  eventually(
    async () => {
      const h = await health(app);
      return h.status === status ? h : undefined;
    },
    30_000,
    `GET /api/health to answer ${status}`,
  );

/** Nothing the answer may contain: the storage key, the connection string, the tenant, the password. */
function expectNothingSecret(app: TestApp, text: string) {
  const key = /AccountKey=([^;]+)/.exec(app.azurite.connectionString)![1]!;
  for (const secret of [key, app.azurite.connectionString, 'AccountKey', TENANT, PASSWORD]) {
    expect(text).not.toContain(secret);
  }
}

describe('GET /api/health', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ env: { ALLOWED_TENANT_IDS: TENANT, MicrosoftAppPassword: PASSWORD } });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('names a missing table (503), then answers 200 with every check once storage has them', async () => {
    // RejectedJobs is made on the first rejection; in Azure the infra makes every table beforehand.
    const missing = await healthWith(app, 503);
    expect(missing.body.status).toBe('unhealthy');
    expect(missing.body.problems).toContain(`table ${TABLES.rejected}: TableNotFound`);
    expectNothingSecret(app, missing.text);

    // What infra/resources.bicep makes in Azure.
    for (const t of Object.values(TABLES)) {
      await TableClient.fromConnectionString(app.azurite.connectionString, t, {
        allowInsecureConnection: true,
      }).createTable();
    }
    for (const q of QUEUES) await new QueueClient(app.azurite.connectionString, q).createIfNotExists();

    const ok = await healthWith(app, 200);
    expect(ok.body.status).toBe('healthy');
    expect(ok.body.problems).toEqual([]);
    expect(ok.body.checks).toEqual(
      Object.fromEntries(
        [
          'configuration',
          ...QUEUES.map((q) => `queue ${q}`),
          ...Object.values(TABLES).map((t) => `table ${t}`),
        ].map((name) => [name, 'ok']),
      ),
    );
    expectNothingSecret(app, ok.text);
  });

  it('needs no function key, while the other routes still do', async () => {
    // Answered by the health function itself (200 or 503 with its report), not refused for a key.
    const res = await app.get('health');
    expect([200, 503]).toContain(res.status);
    expect(((await res.json()) as HealthReport).checks).toHaveProperty('configuration');
    expect((await app.get('notifications/some-job')).status).toBe(401);
  });

  it('answers 503 naming every queue and table when storage is down', async () => {
    await app.azurite.stop();
    const down = await healthWith(app, 503);
    expect(down.body.checks['configuration']).toBe('ok');
    for (const q of QUEUES) expect(down.body.checks[`queue ${q}`]).toBe(`queue ${q}: ECONNREFUSED`);
    for (const t of Object.values(TABLES)) {
      expect(down.body.checks[`table ${t}`]).toBe(`table ${t}: ECONNREFUSED`);
    }
    expectNothingSecret(app, down.text);
  });
});

describe('GET /api/health with a missing setting and storage that never answers', () => {
  let app: TestApp;
  let silent: Server;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    // Accepts connections and never answers: storage that hangs.
    silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    const account = 'devstoreaccount1';
    app = await startApp({
      childProcess: true,
      env: {
        ALLOW_UNAUTHENTICATED_ACTIVITIES: 'false',
        MicrosoftAppPassword: PASSWORD,
        AzureWebJobsStorage: silentStorage(port, account),
      },
    });
  });
  afterAll(async () => {
    await app?.stop();
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => silent?.close(resolve));
  });

  it('answers 503 naming the setting and each check that had no answer in time', async () => {
    const h = await health(app);
    expect(h.status).toBe(503);
    expect(h.body.problems).toContain('MicrosoftAppId is not set');
    expect(h.body.checks[`queue ${JOBS_QUEUE}`]).toBe(`queue ${JOBS_QUEUE}: no answer within 5000 ms`);
    expect(h.body.checks[`table ${TABLES.jobs}`]).toBe(`table ${TABLES.jobs}: no answer within 5000 ms`);
    expectNothingSecret(app, h.text);
  });
});

/** A connection string whose queue and table endpoints are the silent server. */
function silentStorage(port: number, account: string): string {
  const key = Buffer.from('not-a-real-key').toString('base64');
  return [
    'DefaultEndpointsProtocol=http',
    `AccountName=${account}`,
    `AccountKey=${key}`,
    `QueueEndpoint=http://127.0.0.1:${port}/${account}`,
    `TableEndpoint=http://127.0.0.1:${port}/${account}`,
  ].join(';');
}

describe('the checks', () => {
  it('time out a check that never answers, and report an error by its code only', async () => {
    const report = await runChecks(
      [
        { name: 'hangs', run: () => new Promise(() => {}) },
        {
          name: 'fails',
          run: () =>
            Promise.reject(
              Object.assign(new Error('https://acct.queue.core.windows.net/?sig=secret failed'), {
                code: 'AuthorizationPermissionMismatch',
              }),
            ),
        },
        { name: 'fine', run: async () => [] },
      ],
      50,
    );
    expect(report).toMatchObject({
      status: 'unhealthy',
      checks: {
        hangs: 'hangs: no answer within 50 ms',
        fails: 'fails: AuthorizationPermissionMismatch',
        fine: 'ok',
      },
    });
    expect(JSON.stringify(report)).not.toContain('secret');
    expect(failureCode({ statusCode: 403 })).toBe('HTTP 403');
    expect(failureCode({ statusCode: 404, details: { errorCode: 'TableNotFound' } })).toBe('TableNotFound');
    expect(failureCode({ code: 'has spaces and a https://url' })).toBe('Error');
  });

  it('name what is missing or unreadable in the configuration, never the value', () => {
    const storage = { AzureWebJobsStorage: 'UseDevelopmentStorage=true' };
    expect(configurationProblems({ ...storage, ALLOW_UNAUTHENTICATED_ACTIVITIES: 'true' })).toEqual([]);
    expect(configurationProblems(storage)).toEqual(['MicrosoftAppId is not set']);
    expect(configurationProblems({ ALLOW_UNAUTHENTICATED_ACTIVITIES: 'true' })[0]).toMatch(
      /^AzureWebJobsStorage is not set/,
    );
    const bad = configurationProblems({ ...storage, TENANT_RATE_PER_SECOND: 'sixty-secret' });
    expect(bad).toEqual(['TENANT_RATE_PER_SECOND must be a number from 1 to 1000']);
    // botbuilder's own rule: a managed identity signs in within its tenant.
    const msi = { ...storage, MicrosoftAppId: '00000000-0000-0000-0000-000000000001' };
    expect(configurationProblems({ ...msi, MicrosoftAppType: 'UserAssignedMSI' })).toEqual([
      'MicrosoftAppTenantId is required for MSI in configuration.',
    ]);
    expect(configurationProblems({ ...msi, MicrosoftAppType: 'MultiTenant' })).toEqual([
      'MicrosoftAppPassword is not set (MicrosoftAppType MultiTenant signs in with it)',
    ]);
    // In Azure, telemetry too.
    expect(
      configurationProblems({
        ...msi,
        MicrosoftAppType: 'UserAssignedMSI',
        MicrosoftAppTenantId: TENANT,
        WEBSITE_SITE_NAME: 'func-notifier',
      }),
    ).toEqual(['APPLICATIONINSIGHTS_CONNECTION_STRING is not set']);
  });

  it("check the budget table however the tenant budget is kept: the producers' quotas live there too", () => {
    const names = (env: Record<string, string>) =>
      appChecks({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', ...env }).map((c) => c.name);
    expect(names({})).toContain(`table ${TABLES.budgets}`);
    expect(names({ TENANT_BUDGET: 'local' })).toContain(`table ${TABLES.budgets}`);
    expect(names({})).toContain('queue notification-callbacks');
    expect(appChecks({}).map((c) => c.name)).toEqual(['configuration']);
  });
});
