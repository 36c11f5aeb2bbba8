import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobStatus } from '../functions/getNotification/jobStatus.js';
import { startLocalHostProcess, type LocalHostProcess } from '../scripts/local-host/child.js';
import { loadConfig } from '../shared/config.js';
import { buildServices } from '../shared/container.js';
import { SETTLE_MS } from '../shared/followUps/contentCache.js';
import { APP_DIR, TENANT, eventually, hostProcessEnv } from './support/app.js';
import { startAzurite, type Azurite } from './support/azurite.js';
import { startFakeConnector, type FakeConnector } from './support/fakeConnector.js';
import { seedChatUsers } from './support/chatUsers.js';
import { FAST_QUEUES } from './support/pipeline.js';

/**
 * Issue 14: an update or a recall recorded through one instance while another keeps sending the
 * job's deliveries. Two local hosts (separate processes, so separate content caches) share Azurite;
 * the sender sends at 5 messages a second to the Teams-like connector; the API instance runs the HTTP
 * functions only (queue functions disabled, as `AzureWebJobs.<name>.Disabled` does on Azure).
 * PUT and DELETE of sent messages: https://learn.microsoft.com/microsoftteams/platform/bots/how-to/update-and-delete-bot-messages
 */
const BOT_ID = '28:follow-ups-instances-bot';
const KEY = 'follow-ups-instances-key';
const USERS = 40;

let azurite: Azurite;
let fake: FakeConnector;
let sender: LocalHostProcess;
let api: LocalHostProcess;

beforeAll(async () => {
  azurite = await startAzurite();
  fake = await startFakeConnector();
  const env: NodeJS.ProcessEnv = {
    ...hostProcessEnv(azurite, fake, KEY),
    DEFAULT_TENANT_ID: TENANT,
    ...FAST_QUEUES,
  };
  const queueFunctions = [
    'notificationJobs',
    'notificationDeliveries',
    'notificationUrgentDeliveries',
    'notificationBulkDeliveries',
    'notificationJobsPoison',
    'notificationDeliveriesPoison',
    'notificationUrgentDeliveriesPoison',
    'notificationBulkDeliveriesPoison',
  ];
  [sender, api] = await Promise.all([
    startLocalHostProcess({
      root: APP_DIR,
      port: 0,
      env: {
        ...env,
        TENANT_RATE_PER_SECOND: '5',
        // One message at a time: each delivery is claimed just before its turn, so deliveries still
        // unclaimed when an update fans out are sent by the sender within its cache's lifetime.
        AzureFunctionsJobHost__extensions__queues__batchSize: '1',
        AzureFunctionsJobHost__extensions__queues__newBatchThreshold: '0',
      },
    }),
    startLocalHostProcess({
      root: APP_DIR,
      port: 0,
      env: {
        ...env,
        ...Object.fromEntries(queueFunctions.map((f) => [`AzureWebJobs.${f}.Disabled`, 'true'])),
      },
    }),
  ]);
});

afterAll(async () => {
  await Promise.all([sender, api].map((h) => h?.stop()));
  await fake?.stop();
  await azurite?.stop();
});

let batch = 0;
/** Users with a stored 1:1 chat (one connector call per delivery), and a job for them through the API. */
async function jobInFlight(text: string) {
  batch++;
  const s = buildServices(loadConfig({ AzureWebJobsStorage: azurite.connectionString }));
  const seeded = await seedChatUsers({
    conversations: s.conversations,
    fake,
    tenantId: TENANT,
    botId: BOT_ID,
    userIds: Array.from({ length: USERS }, (_, i) => `29:instances-${batch}-${i}`),
    source: 'team:19:instances@thread.tacv2',
  });
  const users = seeded.map((u) => u.userId);
  const chats = new Set(users.map((u) => fake.conversationIdFor(TENANT, u, BOT_ID)));
  const res = await call('POST', '', {
    tenantId: TENANT,
    recipients: users.map((userId) => ({ userId })),
    message: { text },
  });
  expect(res.status).toBe(202);
  const { jobId } = (await res.json()) as { jobId: string };
  const accepted = () => fake.accepted.filter((a) => chats.has(a.conversationId));
  // The sender is under way, with most of the job still to send. Soon after its first sends, it
  // still holds the content it read just before them (for CONTENT_TTL_MS): the window at stake.
  await eventually(() => accepted().length >= 2, 30_000, 'the first sends');
  return { jobId, chats, accepted };
}

const call = (method: string, jobId: string, body?: unknown) =>
  fetch(`${api.url}/api/notifications${jobId ? `/${encodeURIComponent(jobId)}` : ''}`, {
    method,
    headers: { 'x-functions-key': KEY, 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });

const statusWhen = (jobId: string, done: (s: JobStatus) => boolean, what: string) =>
  eventually(
    async () => {
      const s = (await (await call('GET', jobId)).json()) as JobStatus;
      return done(s) ? s : undefined;
    },
    90_000,
    what,
  );

describe('follow-ups across instances', () => {
  it(
    'a recall through one instance: nothing is accepted after it took effect, every copy sent is deleted, the rest cancelled',
    { timeout: 180_000 },
    async () => {
      const { jobId, chats, accepted } = await jobInFlight('recall me');
      const res = await call('DELETE', jobId);
      expect(res.status).toBe(202);
      // The answer comes once sends are stopped; the recall takes effect in its queued fan-out task.
      const { recallRequestedAt } = (await res.json()) as { recallRequestedAt: string };

      const s = await statusWhen(
        jobId,
        (x) => x.totals.pending === 0 && (x.totals.recalled ?? 0) + (x.totals.cancelled ?? 0) === USERS,
        'every delivery recalled or cancelled',
      );
      expect(s.recallRequestedAt).toBe(recallRequestedAt);
      const effective = Date.parse(s.recalledAt!);
      // Sends stopped at recallRequestedAt; the recall took effect once every instance had seen that.
      expect(effective - Date.parse(s.recallRequestedAt!)).toBeGreaterThanOrEqual(SETTLE_MS);
      // The sender was still going when the recall was asked for, and stopped before it took effect.
      expect(accepted().filter((a) => a.at >= effective)).toEqual([]);
      const sent = accepted();
      expect(sent.length).toBeLessThan(USERS);
      expect(s.totals).toMatchObject({
        recalled: sent.length,
        cancelled: USERS - sent.length,
        sent: 0,
        failed: 0,
        changeFailed: 0,
      });
      expect(s.recipients.filter((r) => r.status === 'cancelled').every((r) => r.reason === 'Recalled')).toBe(
        true,
      );
      // Each accepted copy deleted exactly once (the connector refuses a second DELETE with 404).
      const deleted = fake.deleted.filter((d) => chats.has(d.conversationId)).map((d) => d.activityId);
      expect(deleted.sort()).toEqual(sent.map((a) => a.activityId).sort());
    },
  );

  it(
    'an update through one instance: every delivery ends on the new revision, each copy sent before replaced exactly once',
    { timeout: 180_000 },
    async () => {
      const { jobId, chats, accepted } = await jobInFlight('v1');
      const res = await call('PATCH', jobId, { message: { text: 'v2' } });
      expect(res.status).toBe(202);
      const s = await statusWhen(
        jobId,
        (x) => x.complete && x.recipients.every((r) => r.status === 'sent' && r.revision === 1),
        'every delivery on revision 1',
      );
      expect(s.totals).toMatchObject({ sent: USERS, failed: 0, changeFailed: 0 });
      const sent = accepted();
      expect(new Set(sent.map((a) => a.conversationId)).size).toBe(USERS);
      const puts = fake.updated.filter((u) => chats.has(u.conversationId));
      const old = sent.filter((a) => a.body.text === 'v1');
      expect(old.length).toBeGreaterThan(0);
      expect(old.length).toBeLessThan(USERS);
      // Copies sent with v1 (some possibly by the sender after the update was written) get one PUT each;
      // copies sent with v2 get none.
      expect(puts.map((u) => u.activityId).sort()).toEqual(old.map((a) => a.activityId).sort());
      expect(puts.every((u) => u.body.text === 'v2')).toBe(true);
      expect(sent.filter((a) => a.body.text !== 'v1').every((a) => a.body.text === 'v2')).toBe(true);
      expect(s.totals.updated).toBe(old.length);
    },
  );
});
