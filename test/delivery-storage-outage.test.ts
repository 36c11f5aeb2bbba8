import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../shared/config.js';
import { buildServices } from '../shared/container.js';
import { HttpBotConnector, type BotConnector } from '../shared/delivery/connector.js';
import { startAzurite, type Azurite } from './support/azurite.js';
import { startFakeConnector, type FakeConnector } from './support/fakeConnector.js';

/**
 * Found by the soak (issue 6): Teams accepted a message, then storage went away before the delivery
 * record said `sent`; the queue retry sent it again. The outcome write now waits the outage out.
 */

const TENANT = '5a0c0000-0000-4000-8000-0000000000aa';
const BOT_ID = '28:outage-bot';
let azurite: Azurite;
let fake: FakeConnector;
let dir: string;
const savedStorage = process.env.AzureWebJobsStorage;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'outage-azurite-'));
  azurite = await startAzurite({ location: dir });
  fake = await startFakeConnector({ rateLimits: false });
  process.env.AzureWebJobsStorage = azurite.connectionString;
});

afterAll(async () => {
  process.env.AzureWebJobsStorage = savedStorage;
  await fake?.stop();
  await azurite?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('records sent after a storage outage that starts right after Teams accepted, and sends once', async () => {
  // Longer than the storage SDK's own retries (about 7 s), shorter than the outcome write's patience.
  const OUTAGE_MS = 12_000;
  const http = new HttpBotConnector({ token: async () => undefined, extraHosts: [], timeoutMs: 5000 });
  let outage: Promise<void> | undefined;
  const connector: BotConnector = {
    createConversation: (url, params) => http.createConversation(url, params),
    async sendToConversation(url, chat, activity) {
      const result = await http.sendToConversation(url, chat, activity);
      if (result.ok && !outage) {
        await azurite.stop();
        outage = new Promise((r) => setTimeout(r, OUTAGE_MS)).then(() => azurite.restart());
      }
      return result;
    },
  };
  const s = buildServices({ ...loadConfig(process.env), defaultServiceUrl: fake.url }, { connector });
  const userId = '29:outage-user';
  const chat = fake.conversationIdFor(TENANT, userId, BOT_ID);
  fake.registerConversation(chat, { tenantId: TENANT, botId: BOT_ID, members: [{ id: userId }] });
  await s.conversations.saveTenant({ tenantId: TENANT, serviceUrl: fake.url, botId: BOT_ID });
  await s.conversations.saveUser(TENANT, { userId, serviceUrl: fake.url }, { conversationId: chat });

  const result = await s.delivery.deliver(
    {
      v: 1,
      jobId: 'outage-job',
      tenantId: TENANT,
      recipient: `userId:${userId}`,
      message: { text: 'hello' },
      acceptedAt: new Date().toISOString(),
      reschedules: 0,
    },
    { claimToken: 'message-1', dequeueCount: 1, maxDequeueCount: 5 },
  );
  await outage;

  expect(result).toMatchObject({ kind: 'done', status: 'sent' });
  expect(fake.accepted).toHaveLength(1);
  const record = await s.deliveryRecords.get(TENANT, 'outage-job', `userId:${userId}`);
  expect(record).toMatchObject({ status: 'sent', activityId: fake.accepted[0]!.activityId });
}, 60_000);
