import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryBatch } from '../shared/delivery/batch.js';
import { encodeMessage } from '../shared/queues.js';
import { BOT_ID, TENANT, eventually, startApp, type TestApp } from './support/app.js';
import { seedChatUsers } from './support/chatUsers.js';
import { FAST_QUEUES, enqueue, sentTo, status, store } from './support/pipeline.js';

/**
 * Issue 22: a poisoned batch with a reschedule in flight. One recipient of a batch is throttled (429,
 * Retry-After 15 s: rescheduled as a message of its own) while another keeps failing (500). Before,
 * the failing one took the whole batch to the poison queue, whose handler recorded every unfinished
 * delivery `failed` (Poisoned), the rescheduled one included: its reschedule then found `failed` and
 * was dropped, so that person never got the message. Now a batch stops at its first failure and
 * hands that recipient back alone; a batch that does reach the poison queue (say its worker died on
 * every attempt) leaves a delivery that went back to the queue on its own to that message.
 */
let app: TestApp;

beforeAll(async () => {
  app = await startApp({ env: { ...FAST_QUEUES, CONNECTOR_TIMEOUT_MS: '1000' } });
});

afterAll(async () => {
  await app?.stop();
});

async function people(n: number, tag: string) {
  return seedChatUsers({
    conversations: store(app),
    fake: app.connector,
    tenantId: TENANT,
    botId: BOT_ID,
    userIds: Array.from({ length: n }, (_, i) => `29:${tag}-${i}-${Date.now().toString(36)}`),
    source: 'team:19:poison@thread.tacv2',
  });
}
const to = (chat: string) => (r: { route: string; conversationId?: string }) =>
  r.route === 'sendActivity' && r.conversationId === chat;

describe('a poisoned batch with a reschedule in flight', () => {
  it(
    'the throttled person still gets the message once; only the failing one is recorded failed',
    { timeout: 120_000 },
    async () => {
      const [throttled, failing] = await people(2, 'pb');
      // Throttled for 12 s (the batch's attempts, before), then accepted; the other one never succeeds.
      const until = Date.now() + 12_000;
      const early = to(throttled!.conversationId!);
      app.connector.script((r) => early(r) && Date.now() < until, { status: 429, retryAfter: 15 }, Infinity);
      app.connector.script(to(failing!.conversationId!), { status: 500 }, Infinity);
      const { jobId } = await enqueue(app, {
        recipients: [{ userId: throttled!.userId }, { userId: failing!.userId }],
        message: { text: 'poisoned batch' },
      });
      const s = await eventually(
        async () => {
          const x = await status(app, jobId);
          return x?.complete ? x : undefined;
        },
        90_000,
        'the job to complete',
      );
      await new Promise((r) => setTimeout(r, 2000));
      const byUser = (userId: string) => s.recipients.find((r) => r.recipient === `userId:${userId}`);
      expect(sentTo(app, throttled!.conversationId!)).toHaveLength(1);
      expect(byUser(throttled!.userId)).toMatchObject({ status: 'sent' });
      expect(sentTo(app, failing!.conversationId!)).toHaveLength(0);
      expect(byUser(failing!.userId)).toMatchObject({ status: 'failed', reason: 'InternalServerError' });
      expect(byUser(failing!.userId)?.detail).toMatch(/after 3 attempts; message moved to the poison queue/);
    },
  );

  it(
    'a batch that reached the poison queue leaves a rescheduled delivery to its own message',
    { timeout: 90_000 },
    async () => {
      const [waiting, untouched] = await people(2, 'pq');
      app.connector.script(to(waiting!.conversationId!), { status: 429, retryAfter: 15 }, 1);
      const { jobId } = await enqueue(app, {
        recipients: [{ userId: waiting!.userId }],
        message: { text: 'rescheduled' },
      });
      const key = `userId:${waiting!.userId}`;
      await eventually(
        async () => (await status(app, jobId))?.recipients.find((r) => r.recipient === key)?.attempts === 1,
        20_000,
        'the delivery to be rescheduled',
      );
      // As the host leaves it after the last attempt of a batch whose worker died each time: a copy of
      // the batch (this recipient and one never started) in the poison queue.
      const batch: DeliveryBatch = {
        v: 1,
        kind: 'batch',
        task: {
          v: 1,
          jobId,
          tenantId: TENANT,
          message: { text: 'rescheduled' },
          acceptedAt: new Date().toISOString(),
          reschedules: 0,
        },
        recipients: [{ recipient: key }, { recipient: `userId:${untouched!.userId}` }],
      };
      await app.queue('notification-deliveries-poison').sendMessage(encodeMessage(batch));
      await eventually(
        () => sentTo(app, waiting!.conversationId!).length > 0,
        40_000,
        'the reschedule to send',
      );
      const s = await status(app, jobId);
      expect(s?.recipients.find((r) => r.recipient === key)).toMatchObject({ status: 'sent' });
      expect(sentTo(app, waiting!.conversationId!)).toHaveLength(1);
    },
  );
});
