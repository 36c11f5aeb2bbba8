import { TableConversationStore } from '../../shared/azureStorage/tableConversationStore.js';
import type { UserProfile } from '../../shared/stores/conversations.js';
import { tableClient } from '../../shared/azureStorage/connection.js';
import { LazyTable } from '../../shared/azureStorage/table.js';
import { enqueueNotification } from '../../shared/jobs/producer.js';
import type { NotificationJobInput } from '../../shared/jobs/contract.js';
import type { JobStatus } from '../../functions/getNotification/jobStatus.js';
import { isDeliveryBatch, tasksOf } from '../../shared/delivery/batch.js';
import type { DeliveryTask } from '../../shared/delivery/task.js';
import { BOT_ID, FUNCTION_KEY, TENANT, eventually, type TestApp } from './app.js';

/** Helpers for notification pipeline tests: seed users, enqueue jobs, wait for outcomes. */

/** Host settings that make retries quick: the real host reads the same overrides. */
export const FAST_QUEUES = {
  AzureFunctionsJobHost__extensions__queues__visibilityTimeout: '00:00:01',
  AzureFunctionsJobHost__extensions__queues__maxPollingInterval: '00:00:00.2',
  AzureFunctionsJobHost__extensions__queues__maxDequeueCount: '3',
};

export function store(app: Pick<TestApp, 'azurite'>): TableConversationStore {
  return new TableConversationStore(
    new LazyTable(tableClient({ connectionString: app.azurite.connectionString }, 'Conversations')),
  );
}

let n = 0;
/** A roster member the bot knows from a team install (no chat opened yet). */
export async function seedUser(
  app: Pick<TestApp, 'azurite' | 'connector'>,
  overrides: Partial<UserProfile> = {},
): Promise<UserProfile> {
  n += 1;
  const profile: UserProfile = {
    userId: `29:user-${n}-${Math.random().toString(36).slice(2, 8)}`,
    aadObjectId: `0000${n}-aaaa-bbbb-cccc-${String(n).padStart(12, '0')}`,
    upn: `user${n}.${Math.random().toString(36).slice(2, 6)}@contoso.com`,
    name: `User ${n}`,
    serviceUrl: app.connector.url,
    ...overrides,
  };
  const conversations = store(app);
  // As after a team install in this tenant: the tenant's service URL and the bot's Teams ID are known.
  await conversations.saveTenant({ tenantId: TENANT, serviceUrl: app.connector.url, botId: BOT_ID });
  await conversations.saveUser(TENANT, profile, { source: 'team:seed' });
  return profile;
}

export async function enqueue(
  app: Pick<TestApp, 'azurite'>,
  job: Omit<NotificationJobInput, 'tenantId'> & { tenantId?: string },
) {
  return enqueueNotification({ tenantId: TENANT, ...job }, { connection: app.azurite.connectionString });
}

export async function status(app: Pick<TestApp, 'get'>, jobId: string): Promise<JobStatus | undefined> {
  const res = await app.get(`notifications/${encodeURIComponent(jobId)}`, {
    'x-functions-key': FUNCTION_KEY,
  });
  if (res.status === 404) return undefined;
  return (await res.json()) as JobStatus;
}

export async function settled(
  app: Pick<TestApp, 'get'>,
  jobId: string,
  timeoutMs = 20_000,
): Promise<JobStatus> {
  return eventually(
    async () => {
      const s = await status(app, jobId);
      return s?.complete ? s : undefined;
    },
    timeoutMs,
    `job ${jobId} to settle`,
  );
}

export async function queueLength(app: TestApp, name: string): Promise<number> {
  const queue = app.queue(name);
  if (!(await queue.exists())) return 0;
  return (await queue.getProperties()).approximateMessagesCount ?? 0;
}

/**
 * The deliveries visible on the deliveries queue (one per recipient; a message may carry several), for
 * a test whose deliveries function is disabled, and how many messages carried them. What is read stays
 * hidden for 10 minutes; a message delayed to a job's notBefore is not visible yet.
 */
export async function visibleDeliveries(
  app: TestApp,
): Promise<{ messages: number; deliveries: Array<{ jobId: string; recipient: string }> }> {
  const queue = app.queue('notification-deliveries');
  const deliveries: Array<{ jobId: string; recipient: string }> = [];
  for (let messages = 0; ;) {
    const { receivedMessageItems } = await queue.receiveMessages({
      numberOfMessages: 32,
      visibilityTimeout: 600,
    });
    if (receivedMessageItems.length === 0) return { messages, deliveries };
    messages += receivedMessageItems.length;
    for (const m of receivedMessageItems) {
      const value = JSON.parse(Buffer.from(m.messageText, 'base64').toString('utf8')) as unknown;
      const tasks = isDeliveryBatch(value) ? tasksOf(value) : [value as DeliveryTask];
      for (const { jobId, recipient } of tasks) deliveries.push({ jobId, recipient });
    }
  }
}

export const sentTo = (app: Pick<TestApp, 'connector'>, conversationId: string) =>
  app.connector.accepted.filter((a) => a.conversationId === conversationId);
