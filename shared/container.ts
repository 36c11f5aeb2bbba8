import { loadConfig, type AppConfig } from './config.js';
import { createAdapter, createTokenSource } from './bot/adapter.js';
import { TeamsNotifierBot } from './bot/teamsBot.js';
import { HttpBotConnector, type BotConnector } from './delivery/connector.js';
import { DeliveryService } from './delivery/deliver.js';
import { DeliveryRateLimiter } from './delivery/rateLimiter.js';
import { SharedTenantBudget } from './delivery/budget/sharedBudget.js';
import { TableBudgetStore } from './delivery/budget/tableBudgetStore.js';
import { readQueueHostSettings } from './hostSettings.js';
import { JobIntake } from './jobs/intake.js';
import { DELIVERIES_QUEUE, JOBS_QUEUE, StorageQueueSender } from './queue/queues.js';
import { queueClient, storageSettings, tableClient } from './storage/connection.js';
import { LazyTable } from './storage/table.js';
import { ConversationStore } from './store/conversationStore.js';
import { DeliveryStore } from './store/deliveryStore.js';
import { JobStore, RejectedJobStore } from './store/jobStore.js';

/** Table names; all created on first use. */
export const TABLES = {
  conversations: 'Conversations',
  jobs: 'Jobs',
  rejected: 'RejectedJobs',
  budgets: 'RateBudgets',
} as const;

/**
 * Builds the app's services once per process, from settings. Functions call `services()`;
 * tests and the benchmark may pass their own connector.
 */
export function buildServices(
  config: AppConfig = loadConfig(),
  overrides: { connector?: BotConnector } = {},
) {
  const storage = storageSettings();
  const conversationsTable = new LazyTable(tableClient(storage, TABLES.conversations));
  const conversations = new ConversationStore(conversationsTable);
  const deliveryRecords = new DeliveryStore(conversationsTable);
  const jobs = new JobStore(new LazyTable(tableClient(storage, TABLES.jobs)));
  const rejected = new RejectedJobStore(new LazyTable(tableClient(storage, TABLES.rejected)));
  const jobsQueue = new StorageQueueSender(queueClient(storage, JOBS_QUEUE));
  const deliveriesQueue = new StorageQueueSender(queueClient(storage, DELIVERIES_QUEUE));
  const connector =
    overrides.connector ??
    new HttpBotConnector({
      token: createTokenSource(config),
      extraHosts: config.extraServiceUrlHosts,
      timeoutMs: config.connectorTimeoutMs,
    });
  const budget =
    config.tenantBudget === 'shared'
      ? new SharedTenantBudget({
          store: new TableBudgetStore(new LazyTable(tableClient(storage, TABLES.budgets))),
          ratePerSecond: config.tenantRatePerSecond,
        })
      : undefined;
  const limiter = new DeliveryRateLimiter({
    tenantPerSecond: config.tenantRatePerSecond,
    conversationPerSecond: config.conversationRatePerSecond,
    budget,
  });
  const delivery = new DeliveryService({
    conversations,
    deliveries: deliveryRecords,
    connector,
    limiter,
    botId: config.bot.appId ? `28:${config.bot.appId}` : undefined,
    defaultServiceUrl: config.defaultServiceUrl,
    recipientHourlyCap: config.recipientHourlyCap,
  });
  const intake = new JobIntake({ config, jobs, rejected, deliveries: deliveriesQueue, users: conversations });
  const bot = new TeamsNotifierBot({ config, conversations, jobs, delivery, deliveries: deliveriesQueue });
  return {
    config,
    conversations,
    deliveryRecords,
    jobs,
    rejected,
    jobsQueue,
    deliveriesQueue,
    delivery,
    limiter,
    budget,
    intake,
    bot,
    adapter: createAdapter(config),
    queueHost: readQueueHostSettings(),
  };
}

export type Services = ReturnType<typeof buildServices>;

let current: Services | undefined;

export function services(): Services {
  current ??= buildServices();
  return current;
}
