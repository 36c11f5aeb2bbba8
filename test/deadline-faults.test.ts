import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOT_ID, TENANT, startApp, type TestApp } from './support/app.js';
import { seedChatUsers } from './support/chatUsers.js';
import { FAST_QUEUES, enqueue, queueLength, sentTo, settled, store } from './support/pipeline.js';

/**
 * Issue 22: Teams answering slowly while the host enforces functionTimeout as Azure does (past it
 * the worker is restarted and every invocation on it dies: scripts/local-host/workerHost.ts). A
 * batch of 16 that Teams takes 2 s a message to accept needs 32 s; the host allows 15 s. Before the
 * invocation deadline the batch ran on past the timeout, and its message came back while it still
 * sent (the old local host), or its worker was killed between Teams' answer and the `sent` record (as
 * in Azure): people got two messages. Now each invocation stops before its deadline and hands the
 * rest of the batch back.
 */
let app: TestApp;

beforeAll(async () => {
  app = await startApp({
    env: {
      ...FAST_QUEUES,
      AzureFunctionsJobHost__functionTimeout: '00:00:15',
      CONNECTOR_TIMEOUT_MS: '3000',
    },
  });
});

afterAll(async () => {
  await app?.stop();
});

describe('a batch while Teams answers slowly and the worker is restarted at functionTimeout', () => {
  it(
    'every person gets one message and a sent record; no invocation reaches the timeout',
    { timeout: 180_000 },
    async () => {
      const seeded = await seedChatUsers({
        conversations: store(app),
        fake: app.connector,
        tenantId: TENANT,
        botId: BOT_ID,
        userIds: Array.from({ length: 16 }, (_, i) => `29:slow-${i}-${Date.now().toString(36)}`),
        source: 'team:19:slow@thread.tacv2',
      });
      const chats = new Set(seeded.map((u) => u.conversationId!));
      // Teams takes 2 s to accept each message (within the app's 3 s call timeout).
      app.connector.script(
        (r) => r.route === 'sendActivity' && chats.has(r.conversationId ?? ''),
        { hangMs: 2000, then: 'deliver' },
        Infinity,
      );
      const { jobId } = await enqueue(app, {
        recipients: seeded.map((u) => ({ userId: u.userId })),
        message: { text: 'slow Teams' },
      });
      const status = await settled(app, jobId, 150_000);
      // Let anything still running (a second copy, a killed worker's message) come back and finish.
      await new Promise((r) => setTimeout(r, 4000));
      for (const chat of chats) expect(sentTo(app, chat), chat).toHaveLength(1);
      expect(status.totals).toMatchObject({ sent: 16, failed: 0 });
      expect(status.recipients.every((r) => r.status === 'sent')).toBe(true);
      expect(await queueLength(app, 'notification-deliveries-poison')).toBe(0);
      // Nothing ran into the timeout: the worker was never restarted.
      expect(app.logs.some((l) => /Timeout value of .* was exceeded/.test(l.message))).toBe(false);
      expect(app.host.workerRestarts).toBe(0);
    },
  );
});
