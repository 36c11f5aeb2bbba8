import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobStatus } from '../functions/getNotification/jobStatus.js';
import { BOT_ID, FUNCTION_KEY, TENANT, eventually, startApp, type TestApp } from './support/app.js';
import { FAST_QUEUES, sentTo, settled, store } from './support/pipeline.js';

/**
 * Issue 22, item 7: jobs are scoped by tenant. The same job ID in two tenants is two jobs, each sent
 * and shown on its own; a request naming one tenant never reads, updates or recalls the other's.
 * Against real Azurite and the local host; the routes' tenant decision is unit-tested in job-ref.test.ts.
 */

const OTHER = '0e9f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b';
let app: TestApp;

beforeAll(async () => {
  app = await startApp({ env: FAST_QUEUES });
  // Both tenants have installed the bot: their service URL and the bot's ID are known.
  for (const tenantId of [TENANT, OTHER]) {
    await store(app).saveTenant({ tenantId, serviceUrl: app.connector.url, botId: BOT_ID });
  }
});

afterAll(async () => {
  await app?.stop();
});

const call = (method: string, jobId: string, tenantId?: string, body?: unknown) =>
  fetch(`${app.url}/api/notifications/${jobId}${tenantId ? `?tenantId=${tenantId}` : ''}`, {
    method,
    headers: { 'x-functions-key': FUNCTION_KEY, 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
const job = (id: string, tenantId: string, userId: string, text: string) => ({
  id,
  tenantId,
  recipients: [{ userId }],
  message: { text },
});
const statusIn = async (jobId: string, tenantId: string) =>
  (await (await call('GET', jobId, tenantId)).json()) as JobStatus;

describe('the same job ID in two tenants', () => {
  it('is two jobs: both accepted over HTTP, each sent in its tenant and shown at its own status URL', async () => {
    const answers = [];
    for (const [tenantId, text] of [
      [TENANT, 'for Contoso'],
      [OTHER, 'for Fabrikam'],
    ] as const) {
      const res = await app.post('notifications', job('shared-id-1', tenantId, '29:same-person', text), {
        'x-functions-key': FUNCTION_KEY,
      });
      expect(res.status).toBe(202);
      answers.push((await res.json()) as { statusUrl: string; tenantId: string });
    }
    await settled(app, 'shared-id-1');
    const other = (await (
      await fetch(answers[1]!.statusUrl, { headers: { 'x-functions-key': FUNCTION_KEY } })
    ).json()) as JobStatus;
    expect(other).toMatchObject({ jobId: 'shared-id-1', tenantId: OTHER });
    for (const [tenantId, text] of [
      [TENANT, 'for Contoso'],
      [OTHER, 'for Fabrikam'],
    ] as const) {
      const chat = app.connector.conversationIdFor(tenantId, '29:same-person', BOT_ID);
      expect(sentTo(app, chat).map((a) => a.body.text)).toEqual([text]);
    }
    expect(answers.map((a) => a.tenantId)).toEqual([TENANT, OTHER]);
    expect(answers[1]!.statusUrl).toContain(`?tenantId=${OTHER}`);
  });

  it('put on the queue together, both are accepted: neither is set aside as a reused ID', async () => {
    const queue = app.queue('notification-jobs');
    for (const tenantId of [TENANT, OTHER]) {
      const body = job('shared-id-2', tenantId, `29:queued-${tenantId.slice(0, 4)}`, `queued ${tenantId}`);
      await queue.sendMessage(Buffer.from(JSON.stringify(body)).toString('base64'));
    }
    await settled(app, 'shared-id-2');
    const other = await eventually(async () => {
      const x = await statusIn('shared-id-2', OTHER);
      return x.complete ? x : undefined;
    });
    expect(other).toMatchObject({ tenantId: OTHER, totals: { sent: 1 } });
    expect(other.rejected).toBeUndefined();
    expect(other.lastRejection).toBeUndefined();
  });

  it("a request naming one tenant never reads, updates or recalls the other's job", async () => {
    const res = await app.post('notifications', job('only-in-other', OTHER, '29:other-only', 'v1'), {
      'x-functions-key': FUNCTION_KEY,
    });
    expect(res.status).toBe(202);
    const sent = await eventually(async () => {
      const x = await statusIn('only-in-other', OTHER);
      return x.complete ? x : undefined;
    });
    expect(sent.totals.sent).toBe(1);
    // Named with the default tenant (or none, which is the default), the job does not exist.
    for (const tenantId of [TENANT, undefined]) {
      expect((await call('GET', 'only-in-other', tenantId)).status).toBe(404);
      expect((await call('PATCH', 'only-in-other', tenantId, { message: { text: 'v2' } })).status).toBe(404);
      expect((await call('DELETE', 'only-in-other', tenantId)).status).toBe(404);
    }
    const after = await statusIn('only-in-other', OTHER);
    expect(after).toMatchObject({ revision: 0, totals: { sent: 1, recalled: 0 } });
    expect(after.recallRequestedAt).toBeUndefined();
  });
});
