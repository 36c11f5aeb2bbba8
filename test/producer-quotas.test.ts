import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableClient } from '../shared/azureStorage/connection.js';
import { LazyTable } from '../shared/azureStorage/table.js';
import { TableQuotaStore } from '../shared/azureStorage/tableQuotaStore.js';
import { ProducerQuotas } from '../shared/quotas/producerQuotas.js';
import { TENANT, eventually, startApp, type TestApp } from './support/app.js';
import { startOpenIdServer, type OpenIdServer } from './support/openid.js';
import { FAST_QUEUES, seedUser } from './support/pipeline.js';
import { bearer, entraSettings, newProducer, producerToken } from './support/producers.js';

/**
 * Issue 25: quotas per producer, shared by every instance through Table Storage. One producer's
 * flood is refused at the door with 429 and Retry-After, so it never enters the queues; another
 * producer's job is accepted and delivered meanwhile. On 06d3f9d there were no quotas: every job of
 * a flood was queued ahead of everyone else's.
 */

describe('quotas per producer', () => {
  let openId: OpenIdServer;
  let app: TestApp;

  beforeAll(async () => {
    openId = await startOpenIdServer();
    app = await startApp({
      env: { ...FAST_QUEUES, ...entraSettings(openId), PRODUCER_JOBS_PER_MINUTE: '2' },
    });
  });

  afterAll(async () => {
    await app?.stop();
    await openId?.stop();
  });

  it("refuses a producer over its quota with 429 and Retry-After while another producer's job goes out", async () => {
    const flooder = newProducer();
    const other = newProducer();
    const users = await Promise.all([1, 2, 3, 4, 5, 6].map(() => seedUser(app)));
    const post = async (producer: typeof flooder, id: string, upn: string) =>
      fetch(`${app.url}/api/notifications`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...bearer(await producerToken(openId, producer, ['Notifications.Send', 'Notifications.Read'])),
        },
        body: JSON.stringify({ id, tenantId: TENANT, recipients: [{ upn }], message: { text: `job ${id}` } }),
      });
    const flood = [];
    for (let i = 0; i < 5; i++) flood.push(await post(flooder, `flood-${i}`, users[i]!.upn!));
    expect(flood.map((r) => r.status)).toEqual([202, 202, 429, 429, 429]);
    const refused = (await flood[2]!.json()) as { error: string; errors: string[] };
    expect(refused.error).toBe('QuotaExceeded');
    expect(refused.errors[0]).toMatch(
      new RegExp(`^producer ${flooder.appId} is over its quota of 2 jobs per minute; try again in \\d+ s$`),
    );
    const retryAfter = Number(flood[2]!.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);

    const mine = await post(other, 'other-1', users[5]!.upn!);
    expect(mine.status).toBe(202);
    const status = await eventually(async () => {
      const res = await fetch(`${app.url}/api/notifications/other-1`, {
        headers: bearer(await producerToken(openId, other, ['Notifications.Read'])),
      });
      const body = (await res.json()) as { complete: boolean; totals: { sent: number } };
      return body.complete && body;
    });
    expect(status.totals.sent).toBe(1);
    // Only accepted jobs reached Teams: the refused ones were never queued.
    await eventually(() => app.connector.accepted.length === 3);
    const texts = app.connector.accepted.map((a) => String(a.body.text)).sort();
    expect(texts).toEqual(['job flood-0', 'job flood-1', 'job other-1']);
  });

  it('is one budget for every instance: concurrent takes from two instances grant exactly the limit', async () => {
    const table = () =>
      new LazyTable(tableClient({ connectionString: app.azurite.connectionString }, 'RateBudgets'));
    const limits = { jobsPerMinute: 5, recipientsPerHour: 1000 };
    const instances = [
      new ProducerQuotas(new TableQuotaStore(table()), limits),
      new ProducerQuotas(new TableQuotaStore(table()), limits),
    ];
    const decisions = await Promise.all(
      Array.from({ length: 12 }, (_, i) => instances[i % 2]!.take('shared-producer', 1)),
    );
    expect(decisions.filter((d) => d.ok)).toHaveLength(5);
    expect(decisions.filter((d) => !d.ok).every((d) => !d.ok && d.quota === 'jobs')).toBe(true);
  });
});
