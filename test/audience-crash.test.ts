import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalHostProcess, type LocalHostProcess } from '../scripts/local-host/child.js';
import { tableClient } from '../shared/azureStorage/connection.js';
import { LazyTable } from '../shared/azureStorage/table.js';
import { TableJobStore } from '../shared/azureStorage/tableJobStore.js';
import { enqueueNotification } from '../shared/jobs/producer.js';
import type { JobStatus } from '../functions/getNotification/jobStatus.js';
import { APP_DIR, BOT_ID, FUNCTION_KEY, TENANT, eventually, hostProcessEnv } from './support/app.js';
import { seedUsers } from './support/audience.js';
import { startAzurite, type Azurite } from './support/azurite.js';
import { startFakeConnector, type FakeConnector } from './support/fakeConnector.js';
import { FAST_QUEUES } from './support/pipeline.js';
import { TableConversationStore } from '../shared/azureStorage/tableConversationStore.js';
import { TableDeliveryRecordStore } from '../shared/azureStorage/tableDeliveryRecordStore.js';
import { addCounts, countsOf, emptyCounts } from '../shared/jobs/outcomeCounts.js';

/**
 * Issue 15: the host is SIGKILLed in the middle of an allUsers expansion; the restarted host
 * continues from the job's checkpoint and every user gets the message exactly once. The job's
 * notBefore keeps deliveries queued until after the crash, so only the expansion is interrupted.
 * Then a host is killed while deliveries are recorded: the job's counters still equal its records.
 */

const USERS = 1200;
let azurite: Azurite;
let connector: FakeConnector;
let host: LocalHostProcess | undefined;
const lines: string[] = [];

beforeAll(async () => {
  azurite = await startAzurite();
  connector = await startFakeConnector({ rateLimits: false, recordCalls: false });
});
afterAll(async () => {
  await host?.stop('SIGKILL');
  await connector?.stop();
  await azurite?.stop();
});

function startHost() {
  return startLocalHostProcess({
    root: APP_DIR,
    port: 0,
    env: {
      ...hostProcessEnv(azurite, connector, FUNCTION_KEY),
      ALLOW_UNAUTHENTICATED_ACTIVITIES: 'true',
      DEFAULT_TENANT_ID: TENANT,
      ...FAST_QUEUES,
      LOCAL_HOST_QUEUE_LEASE_MS: '3000',
      // Small pages, few at once: the expansion takes long enough to be caught in the middle.
      AUDIENCE_PAGE_SIZE: '50',
      AUDIENCE_FANOUT_CONCURRENCY: '2',
      TENANT_RATE_PER_SECOND: '300',
      CONVERSATION_RATE_PER_SECOND: '20',
    },
    onLine: (line) => lines.push(line),
  });
}

/** The job's status once complete, read from the restarted host. */
const completedAfterRestart = (jobId: string, tenantId = TENANT) =>
  eventually(
    async () => {
      const res = await fetch(`${host!.url}/api/notifications/${jobId}?tenantId=${tenantId}`, {
        headers: { 'x-functions-key': FUNCTION_KEY },
      });
      const s = (await res.json()) as JobStatus;
      return s.complete ? s : undefined;
    },
    120_000,
    'the job to complete after the restart',
  );

describe('a crash in the middle of an audience expansion', () => {
  it('continues from the checkpoint and sends every user exactly once', { timeout: 180_000 }, async () => {
    const userIds = Array.from({ length: USERS }, (_, i) => `29:crash-${i}`);
    await new TableConversationStore(
      new LazyTable(tableClient({ connectionString: azurite.connectionString }, 'Conversations')),
    ).saveTenant({ tenantId: TENANT, serviceUrl: connector.url, botId: BOT_ID, userCount: USERS });
    await seedUsers({
      connectionString: azurite.connectionString,
      tenantId: TENANT,
      serviceUrl: connector.url,
      userIds,
      source: 'personal',
    });
    const jobs = new TableJobStore(
      new LazyTable(tableClient({ connectionString: azurite.connectionString }, 'Jobs')),
    );
    host = await startHost();
    const { jobId } = await enqueueNotification(
      {
        tenantId: TENANT,
        recipients: [{ allUsers: true }],
        message: { text: 'Company-wide' },
        notBefore: new Date(Date.now() + 20_000).toISOString(),
      },
      { connection: azurite.connectionString },
    );
    const atKill = await eventually(
      async () => {
        const e = (await jobs.get(TENANT, jobId))?.expansion;
        return e && e.queued >= 300 ? e : undefined;
      },
      30_000,
      'the expansion to be under way',
    );
    await host.stop('SIGKILL');
    expect(atKill.done).toBe(false);
    expect(atKill.queued).toBeLessThan(USERS);
    expect(connector.accepted.length).toBe(0);

    host = await startHost();
    const done = await completedAfterRestart(jobId);
    const perChat = new Map<string, number>();
    for (const a of connector.accepted)
      perChat.set(a.conversationId, (perChat.get(a.conversationId) ?? 0) + 1);
    const counts = userIds.map((u) => perChat.get(connector.conversationIdFor(TENANT, u, BOT_ID)) ?? 0);
    expect(
      counts.filter((c) => c !== 1),
      lines.slice(-20).join('\n'),
    ).toEqual([]);
    expect(connector.accepted.length).toBe(USERS);
    expect(done.totals).toMatchObject({ recipients: USERS, sent: USERS, failed: 0, skipped: 0, pending: 0 });
    expect(done.expansion).toMatchObject({
      state: 'done',
      expanded: USERS,
      progress: `expanded ${USERS} of about ${USERS}`,
    });
  });

  it(
    'counts every outcome exactly once when the host is killed while deliveries are being recorded',
    { timeout: 180_000 },
    async () => {
      // Another tenant, so its allUsers audience is only these users.
      const tenant = '0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a';
      const userIds = Array.from({ length: 600 }, (_, i) => `29:counted-${i}`);
      const conversations = new LazyTable(
        tableClient({ connectionString: azurite.connectionString }, 'Conversations'),
      );
      await new TableConversationStore(conversations).saveTenant({
        tenantId: tenant,
        serviceUrl: connector.url,
        botId: BOT_ID,
        userCount: userIds.length,
      });
      await seedUsers({
        connectionString: azurite.connectionString,
        tenantId: tenant,
        serviceUrl: connector.url,
        userIds,
        source: 'personal',
      });
      await host?.stop('SIGKILL');
      host = await startHost();
      const chats = new Set(userIds.map((u) => connector.conversationIdFor(tenant, u, BOT_ID)));
      const sentSoFar = () => connector.accepted.filter((a) => chats.has(a.conversationId)).length;
      const { jobId } = await enqueueNotification(
        { tenantId: tenant, recipients: [{ allUsers: true }], message: { text: 'Counted' } },
        { connection: azurite.connectionString },
      );
      await eventually(async () => sentSoFar() >= 150, 60_000, 'deliveries under way');
      await host.stop('SIGKILL');
      const atKill = sentSoFar();
      expect(atKill).toBeLessThan(userIds.length);

      host = await startHost();
      // `complete` needs every queued delivery counted: an outcome left uncounted would hold it forever.
      const done = await completedAfterRestart(jobId, tenant);
      const records = await new TableDeliveryRecordStore(conversations).listForJob(tenant, jobId);
      const fromRecords = emptyCounts();
      for (const r of records) addCounts(fromRecords, countsOf(r));
      expect(records).toHaveLength(userIds.length);
      expect(done.totals).toEqual({ recipients: userIds.length, pending: 0, ...fromRecords });
      expect(done.totals.sent).toBe(userIds.length);
    },
  );
});
