import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueClient } from '@azure/storage-queue';
import { startLocalHostProcess, type LocalHostProcess } from '../scripts/local-host/child.js';
import type { JobStatus } from '../functions/getNotification/jobStatus.js';
import { encodeMessage } from '../shared/queues.js';
import type { DeliveryTask } from '../shared/delivery/task.js';
import { APP_DIR, BOT_ID, FUNCTION_KEY, TENANT, eventually, type TestApp } from './support/app.js';
import { startAzurite, type Azurite } from './support/azurite.js';
import { seedChatUsers } from './support/chatUsers.js';
import { startFakeConnector, type FakeConnector } from './support/fakeConnector.js';
import { enqueue, store } from './support/pipeline.js';

/**
 * Issue 22: a rate-limit wait longer than the claim lease (2 minutes), with two instances. Teams
 * answers three sends on instance A with 429 and a Retry-After of 130 s, so A pauses the tenant
 * (rateLimiter.ts). Before the invocation deadline, A's next delivery waited out the pause holding its
 * claim; its lease ran out, instance B took the delivery over and sent it, then A sent it too. Now A
 * gives the delivery back before its deadline (pending, and a reschedule) and never calls Teams on a
 * claim it may have lost.
 */
let azurite: Azurite;
let fake: FakeConnector;
const hosts: LocalHostProcess[] = [];

const envFor = (extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH ?? '',
  AzureWebJobsStorage: azurite.connectionString,
  FUNCTIONS_KEY: FUNCTION_KEY,
  MicrosoftAppId: '',
  ALLOW_UNAUTHENTICATED_ACTIVITIES: 'true',
  BOT_SERVICE_URL: fake.url,
  DEFAULT_TENANT_ID: TENANT,
  AzureFunctionsJobHost__extensions__queues__maxPollingInterval: '00:00:00.2',
  ...extra,
});
const startHost = async (env: Record<string, string>) => {
  // Two instances: two host processes on one storage account.
  const host = await startLocalHostProcess({ root: APP_DIR, port: 0, env });
  hosts.push(host);
  return host;
};

beforeAll(async () => {
  azurite = await startAzurite();
  fake = await startFakeConnector({ rateLimits: { retryAfter: true } });
});

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop('SIGKILL')));
  await fake?.stop();
  await azurite?.stop();
});

describe('a rate-limit wait longer than the claim lease, two instances', () => {
  it(
    'each person gets one message: nobody sends on a claim another instance took over',
    { timeout: 300_000 },
    async () => {
      // What the pipeline helpers use of a test app: its storage and its connector.
      const app = { azurite, connector: fake } as TestApp;
      const users = await seedChatUsers({
        conversations: store(app),
        fake,
        tenantId: TENANT,
        botId: BOT_ID,
        userIds: [1, 2, 3, 4].map((i) => `29:lease-${i}-${Date.now().toString(36)}`),
        source: 'team:19:lease@thread.tacv2',
      });
      const chats = users.map((u) => u.conversationId!);
      for (const chat of chats.slice(0, 3)) {
        fake.script(
          (r) => r.route === 'sendActivity' && r.conversationId === chat,
          { status: 429, retryAfter: 130 },
          1,
        );
      }
      // Instance A takes one message at a time, so while it works on the batch B gets what comes next.
      const a = await startHost(
        envFor({
          AzureFunctionsJobHost__extensions__queues__batchSize: '1',
          AzureFunctionsJobHost__extensions__queues__newBatchThreshold: '0',
        }),
      );
      const { jobId } = await enqueue(app, {
        recipients: users.map((u) => ({ userId: u.userId })),
        message: { text: 'lease' },
      });
      const jobStatus = async () => {
        const res = await fetch(`${a.url}/api/notifications/${jobId}`, {
          headers: { 'x-functions-key': FUNCTION_KEY },
        });
        return res.ok ? ((await res.json()) as JobStatus) : undefined;
      };
      const fourth = `userId:${users[3]!.userId}`;
      // A has the fourth delivery in hand (claimed and waiting, or given back before its deadline).
      await eventually(
        async () => (await jobStatus())?.recipients.some((r) => r.recipient === fourth && r.attempts >= 1),
        60_000,
        'instance A to take up the fourth delivery',
      );
      // Instance B starts, and a copy of that delivery arrives (a producer's resend, a redelivery).
      await startHost(envFor());
      const copy: DeliveryTask = {
        v: 1,
        jobId,
        tenantId: TENANT,
        recipient: fourth,
        message: { text: 'lease' },
        acceptedAt: new Date().toISOString(),
        reschedules: 0,
      };
      await new QueueClient(azurite.connectionString, 'notification-deliveries').sendMessage(
        encodeMessage(copy),
      );

      const done = await eventually(
        async () => {
          const s = await jobStatus();
          return s?.recipients.every((r) => r.status === 'sent') ? s : undefined;
        },
        240_000,
        'all four sent',
      );
      // Whatever still waited (A's pause ends at 130 s) has had its turn.
      await new Promise((r) => setTimeout(r, 5000));
      for (const chat of chats) {
        expect(
          fake.accepted.filter((m) => m.conversationId === chat),
          chat,
        ).toHaveLength(1);
      }
      expect(done.totals).toMatchObject({ sent: 4, failed: 0 });
    },
  );
});
