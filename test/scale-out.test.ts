import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../shared/config.js';
import { buildServices } from '../shared/container.js';
import { startLocalHostProcess, type LocalHostProcess } from '../scripts/local-host/child.js';
import { APP_DIR, eventually, hostProcessEnv } from './support/app.js';
import { startAzurite, type Azurite } from './support/azurite.js';
import { startFakeConnector, type FakeConnector } from './support/fakeConnector.js';
import { seedChatUsers } from './support/chatUsers.js';

/**
 * Issue 12: two hosts (separate processes, as two Functions instances) share one storage account and
 * one tenant. The Teams-like connector enforces 50 calls per sliding second per app and tenant; it
 * counts what the hosts send together. One host is then killed; the other must take up its share.
 */
const TENANT = randomUUID();
const BOT_ID = '28:scale-out-test-bot';
const KEY = 'scale-out-key';
const LIMIT = 50;

/** Most timestamps within any sliding second. */
function busiestSecond(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let hi = 0, lo = 0; hi < sorted.length; hi++) {
    while (sorted[hi]! - sorted[lo]! >= 1000) lo++;
    most = Math.max(most, hi - lo + 1);
  }
  return most;
}

describe('tenant budget shared by two hosts', () => {
  let azurite: Azurite;
  let fake: FakeConnector;
  let hosts: LocalHostProcess[] = [];

  beforeAll(async () => {
    azurite = await startAzurite();
    fake = await startFakeConnector({
      rateLimits: {
        perAppTenant: [{ limit: LIMIT, windowMs: 1000 }],
        perConversation: [{ limit: 7, windowMs: 1000 }],
        retryAfter: true,
      },
    });
    const env: NodeJS.ProcessEnv = {
      ...hostProcessEnv(azurite, fake, KEY),
      RECIPIENT_HOURLY_CAP: '1000',
      // The killed host's messages come back after this (Azure's host: 10 minutes), not the test's concern.
      LOCAL_HOST_QUEUE_LEASE_MS: '4000',
    };
    hosts = await Promise.all([0, 1].map(() => startLocalHostProcess({ root: APP_DIR, port: 0, env })));
  });

  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.stop('SIGKILL')));
    await fake?.stop();
    await azurite?.stop();
  });

  it(
    "never exceeds the tenant's limit in any second, and a killed host's share returns to the other",
    { timeout: 300_000 },
    async () => {
      // Users with a stored 1:1 chat (one connector call each), known from a team roster.
      process.env.AzureWebJobsStorage = azurite.connectionString;
      const s = buildServices({
        ...loadConfig({ AzureWebJobsStorage: azurite.connectionString }),
        tenantBudget: 'local',
      });
      const seeded = await seedChatUsers({
        conversations: s.conversations,
        fake,
        tenantId: TENANT,
        botId: BOT_ID,
        userIds: Array.from({ length: 600 }, (_, i) => `29:scale-test-${i}`),
        source: 'team:19:scale@thread.tacv2',
      });
      const users = seeded.map((u) => u.userId);
      // Two jobs, one through each host.
      await Promise.all(
        [users.slice(0, 300), users.slice(300)].map(async (part, i) => {
          const res = await fetch(`${hosts[i]!.url}/api/notifications`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-functions-key': KEY },
            body: JSON.stringify({
              tenantId: TENANT,
              recipients: part.map((userId) => ({ userId })),
              message: { text: 'Scale-out test' },
            }),
          });
          expect(res.status).toBe(202);
        }),
      );
      const admitted = () => fake.calls.filter((c) => c.status >= 200 && c.status < 300).map((c) => c.at);

      // Both hosts are sending (the connector sees calls answered while both run) ...
      await eventually(() => fake.accepted.length >= 150, 60_000, '150 messages accepted');
      await hosts[1]!.stop('SIGKILL');
      const killedAt = Date.now();
      // ... then the survivor alone reaches close to the whole budget: more than a half share.
      await eventually(
        () => {
          const recent = admitted().filter((at) => at > killedAt && at > Date.now() - 1000);
          return recent.length >= LIMIT * 0.8;
        },
        30_000,
        'the surviving host to use most of the tenant budget',
      );
      // Every message reaches its user once the killed host's in-flight deliveries come back.
      await eventually(
        () => new Set(fake.accepted.map((a) => a.conversationId)).size === users.length,
        120_000,
        'all delivered',
      );

      expect(busiestSecond(admitted())).toBeLessThanOrEqual(LIMIT);
    },
  );
});
