/**
 * What the in-process delivery scenarios (throughput, cost per DM, broadcast) share: the services
 * built as the app builds them, pointed at the Teams-like fake connector, seeded users and tasks.
 */
import { randomUUID } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type AppConfig } from '../shared/config.js';
import { buildServices, type Services } from '../shared/container.js';
import type { AttemptContext, DeliveryTask } from '../shared/delivery/task.js';
import { recipientKeyString } from '../shared/jobs/recipient.js';
import type {
  FakeConnector,
  FakeConnectorOptions,
  startFakeConnector,
} from '../test/support/fakeConnector.js';
import { seedChatUsers } from '../test/support/chatUsers.js';

export type StartFake = typeof startFakeConnector;

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TENANT = '11111111-2222-3333-4444-555555555555';
const BOT_ID = '28:00000000-0000-0000-0000-00000000b0b0';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const calls = (fake: FakeConnector) => Object.values(fake.byStatus).reduce((a, b) => a + b, 0);
export const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
export const met = (ok: boolean) => (ok ? 'met' : '**not met**');

/**
 * The Teams-like connector as the scaled scenarios run it: its limits per app and tenant and per chat
 * (Teams' 50/s and 7/s, times a scale), 429 with Retry-After, and no log of every call.
 */
export const teamsLimited = (tenantPerSecond: number, chatPerSecond: number): FakeConnectorOptions => ({
  rateLimits: {
    perAppTenant: [{ limit: tenantPerSecond, windowMs: 1000 }],
    perConversation: [{ limit: chatPerSecond, windowMs: 1000 }],
    retryAfter: true,
  },
  recordCalls: false,
});

/** Stops the limiter's timers if this version of DeliveryRateLimiter has a stop(). */
export async function stopLimiter(s: Services): Promise<void> {
  await (s.limiter as unknown as { stop?: () => Promise<void> }).stop?.();
  s.budget?.stop();
}

export function services(
  fake: FakeConnector,
  tenantRatePerSecond: number,
  conversationRatePerSecond: number,
): Services {
  const config: AppConfig = {
    ...loadConfig(process.env),
    tenantRatePerSecond,
    conversationRatePerSecond,
    recipientHourlyCap: 100_000,
    defaultServiceUrl: fake.url,
  };
  // No MicrosoftAppId: the app's own HttpBotConnector calls the fake without a token.
  return buildServices(config);
}

export interface Seeded {
  userId: string;
  recipient: string;
  conversationId: string | undefined;
}

let userSeq = 0;
export async function seedUsers(
  s: Services,
  fake: FakeConnector,
  count: number,
  withChat: boolean,
): Promise<Seeded[]> {
  const ids = Array.from({ length: count }, () => `29:bench-user-${++userSeq}-${randomUUID().slice(0, 8)}`);
  const seeded = await seedChatUsers({
    conversations: s.conversations,
    fake,
    tenantId: TENANT,
    botId: BOT_ID,
    userIds: ids,
    source: 'team:bench',
    withChat,
    name: (userId) => `Bench ${userId}`,
    concurrency: 32,
  });
  return seeded.map(({ userId, conversationId }) => ({
    userId,
    recipient: recipientKeyString({ kind: 'userId', value: userId }),
    conversationId,
  }));
}

export function task(jobId: string, recipient: string): DeliveryTask {
  return {
    v: 1,
    jobId,
    tenantId: TENANT,
    recipient,
    message: { text: 'Benchmark notification' },
    acceptedAt: new Date().toISOString(),
    reschedules: 0,
  };
}

export const attempt = (): AttemptContext => ({
  claimToken: randomUUID(),
  dequeueCount: 1,
  maxDequeueCount: 5,
});
