import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobStatus } from '../functions/getNotification/jobStatus.js';
import { startLocalHostProcess, type LocalHostProcess } from '../scripts/local-host/child.js';
import { tableClient } from '../shared/azureStorage/connection.js';
import { LazyTable } from '../shared/azureStorage/table.js';
import { TableConversationStore } from '../shared/azureStorage/tableConversationStore.js';
import { APP_DIR, BOT_ID, FUNCTION_KEY, TENANT, eventually, hostProcessEnv } from './support/app.js';
import { startAzurite, type Azurite } from './support/azurite.js';
import { movableClock, type MovableClock } from './support/clock.js';
import { startFakeConnector, type FakeConnector } from './support/fakeConnector.js';
import { FAST_QUEUES } from './support/pipeline.js';

/**
 * Issue 22: a job due 10 days ahead. A queue message stays hidden at most 7 days and, unless told
 * otherwise, expires 7 days after it was put ("Put Message", learn.microsoft.com/rest/api/
 * storageservices/put-message); Azurite keeps both rules. Azurite and the local host read a clock
 * the test moves on by days, so the week passes in seconds: the job must come back after 7 days,
 * and be delivered once after 10, not expire unseen.
 */

const DAY = 86_400_000;
let clock: MovableClock;
let azurite: Azurite;
let connector: FakeConnector;
let host: LocalHostProcess;
const lines: string[] = [];

beforeAll(async () => {
  clock = movableClock();
  azurite = await startAzurite({ nodeArgs: clock.nodeArgs });
  connector = await startFakeConnector({ rateLimits: false });
  host = await startLocalHostProcess({
    root: APP_DIR,
    port: 0,
    env: {
      ...hostProcessEnv(azurite, connector, FUNCTION_KEY),
      DEFAULT_TENANT_ID: TENANT,
      ...FAST_QUEUES,
      ...clock.env,
    },
    onLine: (line) => lines.push(line),
  });
  const conversations = new TableConversationStore(
    new LazyTable(tableClient({ connectionString: azurite.connectionString }, 'Conversations')),
  );
  await conversations.saveTenant({ tenantId: TENANT, serviceUrl: connector.url, botId: BOT_ID });
}, 60_000);

afterAll(async () => {
  await host?.stop();
  await connector?.stop();
  await azurite?.stop();
});

const api = (method: string, route: string, body?: unknown) =>
  fetch(`${host.url}/api/${route}`, {
    method,
    headers: { 'x-functions-key': FUNCTION_KEY, 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
const status = async (jobId: string) =>
  (await (await api('GET', `notifications/${jobId}`)).json()) as JobStatus;

describe('notBefore more than a week ahead', () => {
  it('is delivered once after 10 days: it comes back after 7, nothing goes out before it is due', async () => {
    const chat = connector.conversationIdFor(TENANT, '29:in-ten-days', BOT_ID);
    const notBefore = new Date(Date.now() + 10 * DAY).toISOString();
    const res = await api('POST', 'notifications', {
      id: 'far-ahead-1',
      tenantId: TENANT,
      recipients: [{ userId: '29:in-ten-days' }],
      message: { text: 'in ten days' },
      notBefore,
    });
    expect(res.status).toBe(202);
    await eventually(
      async () => (await status('far-ahead-1')).totals?.pending === 1,
      20_000,
      'the job accepted',
    );

    const weekLater = lines.length;
    clock.set(7 * DAY + 60_000);
    await eventually(
      () => lines.slice(weekLater).some((l) => l.includes('job far-ahead-1')),
      30_000,
      'the job back from the queue after a week',
    );
    expect(connector.accepted.filter((a) => a.conversationId === chat)).toEqual([]);
    expect((await status('far-ahead-1')).totals).toMatchObject({ pending: 1, sent: 0 });

    clock.set(10 * DAY + 60_000);
    const s = await eventually(
      async () => {
        const x = await status('far-ahead-1');
        return x.complete ? x : undefined;
      },
      30_000,
      'the delivery after 10 days',
    );
    expect(s.totals).toMatchObject({ sent: 1, failed: 0 });
    expect(connector.accepted.filter((a) => a.conversationId === chat).map((a) => a.body.text)).toEqual([
      'in ten days',
    ]);
  });

  it('more than 30 days ahead is refused with its reason', async () => {
    const res = await api('POST', 'notifications', {
      tenantId: TENANT,
      recipients: [{ userId: '29:too-far' }],
      message: { text: 'x' },
      notBefore: new Date(Date.now() + 11 * DAY + 31 * DAY).toISOString(),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: 'NotBeforeTooFar',
      errors: [expect.stringMatching(/^\/notBefore: .* more than 30 days ahead/)],
    });
  });
});
