import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAudienceWindow, loadConfig } from '../shared/config.js';
import { LANE_QUEUES } from '../shared/queues.js';
import { BOT_ID, TENANT, eventually, startApp, type TestApp } from './support/app.js';
import { seedUsers } from './support/audience.js';
import { FAST_QUEUES, enqueue, settled, store } from './support/pipeline.js';

/**
 * A broadcast's window (docs/delivery.md#fair-shares-within-a-lane), on the built app (local host,
 * real Azurite) with the Teams-like connector enforcing a tenant limit: the bulk lane's queue never
 * holds more than the window of a broadcast, and a small bulk job posted while the broadcast drains
 * is read within a window, not after the whole audience. The window's default follows the tenant's
 * budget, so a raised TENANT_RATE_PER_SECOND does not run the lane dry.
 */

const WINDOW = 32; // two queue messages of 16
const RATE = 100;
let app: TestApp;

beforeAll(async () => {
  app = await startApp({
    env: {
      ...FAST_QUEUES,
      TENANT_RATE_PER_SECOND: String(RATE),
      AUDIENCE_WINDOW: String(WINDOW),
      // A host that holds few messages at once (host.json's batchSize and newBatchThreshold), so
      // the broadcast is larger than what it reads in one go, as a big audience is on any host.
      AzureFunctionsJobHost__extensions__queues__batchSize: '4',
      AzureFunctionsJobHost__extensions__queues__newBatchThreshold: '2',
    },
    connector: { rateLimits: { perAppTenant: [{ limit: RATE, windowMs: 1000 }], retryAfter: true } },
  });
  await store(app).saveTenant({ tenantId: TENANT, serviceUrl: app.connector.url, botId: BOT_ID });
});
afterAll(async () => {
  await app?.stop();
});

async function seed(userIds: string[]) {
  const chatOf = (userId: string) => app.connector.conversationIdFor(TENANT, userId, BOT_ID);
  for (const userId of userIds) {
    app.connector.registerConversation(chatOf(userId), {
      tenantId: TENANT,
      botId: BOT_ID,
      members: [{ id: userId }],
    });
  }
  await seedUsers({
    connectionString: app.azurite.connectionString,
    tenantId: TENANT,
    serviceUrl: app.connector.url,
    userIds,
    source: 'personal',
    conversationIdOf: chatOf,
  });
  return new Set(userIds.map(chatOf));
}

describe('a broadcast’s window', () => {
  it('keeps the bulk queue short, and a small job posted meanwhile reaches Teams long before the broadcast ends', async () => {
    const crowd = Array.from({ length: 400 }, (_, i) => `29:window-crowd-${i}`);
    const crowdChats = await seed(crowd);
    // Three of them also get a small job of their own.
    const fewChats = new Set([...crowdChats].slice(0, 3));
    const BROADCAST = 'All-hands at 3';
    const SMALL = 'Your expense report is approved';
    const sentTo = (chats: Set<string>, text: string) =>
      app.connector.accepted.filter((a) => chats.has(a.conversationId) && a.body.text === text);

    const bulkQueue = app.queue(LANE_QUEUES.bulk);
    let deepest = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const depth = (await bulkQueue.getProperties()).approximateMessagesCount ?? 0;
        deepest = Math.max(deepest, depth);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const broadcast = await enqueue(app, { recipients: [{ allUsers: true }], message: { text: BROADCAST } });
    await eventually(
      () => sentTo(crowdChats, BROADCAST).length >= WINDOW,
      30_000,
      'the broadcast to be draining',
    );
    const small = await enqueue(app, {
      priority: 'bulk',
      recipients: crowd.slice(0, 3).map((userId) => ({ userId })),
      message: { text: SMALL },
    });
    const smallDone = await settled(app, small.jobId, 30_000);
    const broadcastDone = await settled(app, broadcast.jobId, 60_000);
    watching = false;
    await watcher;

    expect(smallDone.totals).toMatchObject({ recipients: 3, sent: 3, failed: 0 });
    expect(broadcastDone.totals).toMatchObject({ recipients: 400, sent: 400, failed: 0 });
    // Everyone once: the window paces the broadcast, it loses and repeats nobody.
    const once = (chats: Set<string>, text: string) => {
      const seen = sentTo(chats, text).map((a) => a.conversationId);
      return seen.length === chats.size && new Set(seen).size === chats.size;
    };
    expect(once(crowdChats, BROADCAST)).toBe(true);
    expect(once(fewChats, SMALL)).toBe(true);

    // Queued all at once (AUDIENCE_WINDOW=0), the broadcast fills the queue with 25 messages and
    // the small job is read after most of them (tried: 26 deep, 386 of 400 sent before it). With the
    // window, its 32 recipients wait in two or three messages (a page can end part-way through one),
    // beside the small job's and a throttled delivery's rescheduled copy or two.
    expect(deepest).toBeLessThanOrEqual(8);
    const lastOfSmall = Math.max(...sentTo(fewChats, SMALL).map((a) => a.seq));
    const crowdBefore = sentTo(crowdChats, BROADCAST).filter((a) => a.seq < lastOfSmall).length;
    expect(crowdBefore).toBeLessThan(crowd.length / 2);
  }, 120_000);
});

describe('the window’s default', () => {
  it('holds about ten seconds of the tenant’s budget in whole queue messages, never less than Teams’ 50/s needs', () => {
    for (const rate of [1, 7, 50, 51, 100, 250, 1000]) {
      const window = defaultAudienceWindow(rate);
      expect(window % 16).toBe(0);
      expect(window).toBeGreaterThanOrEqual(Math.max(512, rate * 10));
      expect(window).toBeLessThan(Math.max(512, rate * 10) + 16);
    }
  });

  it('follows TENANT_RATE_PER_SECOND unless AUDIENCE_WINDOW is set', () => {
    expect(loadConfig({ TENANT_RATE_PER_SECOND: '250' }).audienceWindow).toBe(defaultAudienceWindow(250));
    expect(loadConfig({}).audienceWindow).toBe(defaultAudienceWindow(50));
    expect(loadConfig({ TENANT_RATE_PER_SECOND: '250', AUDIENCE_WINDOW: '0' }).audienceWindow).toBe(0);
  });
});
