import { loadConfig, type AppConfig } from './config.js';
import { createTokenSource } from './botFramework.js';
import { HttpBotConnector, type BotConnector } from './delivery/connector.js';
import { invocationDeadline, type DeadlinePolicy } from './delivery/deadline.js';
import { CLAIM_LEASE_MS, DeliveryService } from './delivery/deliver.js';
import { DeliveryRateLimiter } from './delivery/rateLimiter.js';
import { SharedTenantBudget } from './delivery/budget/sharedBudget.js';
import { readQueueHostSettings } from './hostSettings.js';
import { JobIntake } from './jobs/intake.js';
import { CALLBACKS_QUEUE, JOBS_QUEUE, LANE_QUEUES, poisonQueueOf } from './queues.js';
import { LANES, type Lane } from './delivery/lanes.js';
import { CallbackService } from './callbacks/callbackService.js';
import { TableCallbackStore } from './azureStorage/tableCallbackStore.js';
import { TableQuotaStore } from './azureStorage/tableQuotaStore.js';
import { ProducerQuotas } from './quotas/producerQuotas.js';
import { queueClient, tableClient } from './azureStorage/connection.js';
import { StorageQueueSender } from './azureStorage/queueSender.js';
import { LazyTable } from './azureStorage/table.js';
import { TableBudgetStore } from './azureStorage/tableBudgetStore.js';
import { TableConversationStore } from './azureStorage/tableConversationStore.js';
import { TableDeliveryRecordStore } from './azureStorage/tableDeliveryRecordStore.js';
import { TableJobStore, TableRejectedJobStore } from './azureStorage/tableJobStore.js';
import { TableAudienceStore } from './azureStorage/tableAudienceStore.js';
import { TableJobCounters } from './azureStorage/tableJobCounters.js';
import { AudienceExpander } from './jobs/expand.js';
import { FINAL_KINDS } from './jobs/outcomeCounts.js';
import type { TeamRecord } from './stores/conversations.js';
import { TableFollowUpStore } from './azureStorage/tableFollowUpStore.js';
import { TableJobContentStore } from './azureStorage/tableJobContentStore.js';
import { ChangeService } from './followUps/changeService.js';
import { sendHooks } from './followUps/sendHooks.js';
import { TableInstallMarks } from './azureStorage/tableInstallMarks.js';
import { TableGroupRows } from './azureStorage/tableGroupRows.js';
import { graphServices } from './graph/services.js';

/** Table names; all created on first use. */
export const TABLES = {
  conversations: 'Conversations',
  jobs: 'Jobs',
  rejected: 'RejectedJobs',
  budgets: 'RateBudgets',
} as const;

/**
 * Builds the app's services once per process, from settings: the ports with their Azure adapters.
 * Functions call `services()`; tests and the benchmark may pass their own connector.
 */
export function buildServices(
  config: AppConfig = loadConfig(),
  overrides: { connector?: BotConnector } = {},
) {
  const storage = config.storage;
  const conversationsTable = new LazyTable(tableClient(storage, TABLES.conversations));
  const conversations = new TableConversationStore(conversationsTable);
  const deliveryRecords = new TableDeliveryRecordStore(conversationsTable);
  const jobsTable = new LazyTable(tableClient(storage, TABLES.jobs));
  const jobs = new TableJobStore(jobsTable);
  const counters = new TableJobCounters(conversationsTable);
  const audiences = new TableAudienceStore(conversationsTable);
  const contents = new TableJobContentStore(jobsTable);
  const followUps = new TableFollowUpStore(conversationsTable);
  const rejected = new TableRejectedJobStore(new LazyTable(tableClient(storage, TABLES.rejected)));
  const jobQueue = new StorageQueueSender(queueClient(storage, JOBS_QUEUE));
  // One deliveries queue per lane (delivery/lanes.ts); the normal lane's also carries work tasks.
  const laneQueues = perLane((lane) => new StorageQueueSender(queueClient(storage, LANE_QUEUES[lane])));
  const lanePoisonQueues = perLane(
    (lane) => new StorageQueueSender(queueClient(storage, poisonQueueOf(LANE_QUEUES[lane]))),
  );
  const deliveryQueue = laneQueues.normal;
  const budgetsTable = new LazyTable(tableClient(storage, TABLES.budgets));
  const callbacks = new CallbackService({
    store: new TableCallbackStore(jobsTable),
    queue: new StorageQueueSender(queueClient(storage, CALLBACKS_QUEUE)),
    secret: config.callbacks.secret,
    policy: { allowedHosts: config.callbacks.allowedHosts, runsInAzure: config.runsInAzure },
    firstRetrySeconds: config.callbacks.firstRetrySeconds,
  });
  const quotas = new ProducerQuotas(new TableQuotaStore(budgetsTable), config.producers);
  const queueHost = readQueueHostSettings();
  const deadlinePolicy: DeadlinePolicy = {
    functionTimeoutMs: queueHost.functionTimeoutMs,
    connectorTimeoutMs: config.connectorTimeoutMs,
    claimLeaseMs: CLAIM_LEASE_MS,
  };
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
          store: new TableBudgetStore(budgetsTable),
          ratePerSecond: config.tenantRatePerSecond,
        })
      : undefined;
  const limiter = new DeliveryRateLimiter({
    tenantPerSecond: config.tenantRatePerSecond,
    conversationPerSecond: config.conversationRatePerSecond,
    budget,
  });
  const installMarks = new TableInstallMarks(conversationsTable);
  const graph = graphServices(config, {
    conversations,
    audiences,
    marks: installMarks,
    groupRows: new TableGroupRows(conversationsTable),
    connector,
    limiter,
    budgetStore:
      config.tenantBudget === 'shared' ? (row: string) => new TableBudgetStore(budgetsTable, row) : undefined,
  });
  const delivery = new DeliveryService({
    conversations,
    records: deliveryRecords,
    connector,
    limiter,
    botId: config.bot.appId ? `28:${config.bot.appId}` : undefined,
    defaultServiceUrl: config.defaultServiceUrl,
    recipientHourlyCap: config.recipientHourlyCap,
    retryWindowMs: config.deliveryRetryWindowMs,
    deadlinePolicy,
    hooks: sendHooks(contents),
    unknownRecipients: graph.recipients,
  });
  const expander = new AudienceExpander({
    jobs,
    conversations,
    audiences,
    deliveryQueue,
    pageSize: config.audiencePageSize,
    fanOutConcurrency: config.audienceFanOutConcurrency,
    rosterMaxAgeMs: config.rosterMaxAgeMs,
    // botbuilder is loaded only when a stale roster must be read again.
    refreshRoster: async (team: TeamRecord) =>
      (await import('./roster/refresh.js')).refreshRoster(team, { config, conversations, audiences }),
    groups: graph.groups,
    window: config.audienceWindow,
    // The window of a broadcast (expand.ts): its outcomes so far, from its counters.
    finished: async (tenantId, jobId) => {
      const totals = await counters.totals(tenantId, jobId);
      return FINAL_KINDS.reduce((n, kind) => n + totals[kind], 0);
    },
  });
  const changes = new ChangeService({
    records: deliveryRecords,
    followUps,
    contents,
    conversations,
    connector,
    limiter,
    defaultServiceUrl: config.defaultServiceUrl,
    deadlinePolicy,
  });
  const intake = new JobIntake({
    config,
    jobs,
    rejected,
    deliveryQueue,
    laneQueues,
    jobQueue,
    expander,
    users: conversations,
    contents,
    callbacks,
    signalUrgent: budget ? (tenantId: string) => budget.signalUrgent(tenantId) : undefined,
  });
  return {
    config,
    conversations,
    deliveryRecords,
    jobs,
    counters,
    audiences,
    rejected,
    jobQueue,
    deliveryQueue,
    laneQueues,
    lanePoisonQueues,
    delivery,
    limiter,
    budget,
    graph,
    installMarks,
    contents,
    followUps,
    changes,
    intake,
    callbacks,
    callbackStore: new TableCallbackStore(jobsTable),
    quotas,
    queueHost,
    /** The deadline of an invocation that started at `startedAt` (epoch ms): delivery/deadline.ts. */
    deadlineOf: (startedAt: number) => invocationDeadline(startedAt, deadlinePolicy),
  };
}

export type Services = ReturnType<typeof buildServices>;

const perLane = <T>(make: (lane: Lane) => T) =>
  Object.fromEntries(LANES.map((lane) => [lane, make(lane)])) as Record<Lane, T>;

let current: Services | undefined;

export function services(): Services {
  current ??= buildServices();
  return current;
}
