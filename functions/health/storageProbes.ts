import type { StorageSettings } from '../../shared/config.js';
import { TABLES } from '../../shared/container.js';
import { queueClient, tableClient } from '../../shared/azureStorage/connection.js';
import { CALLBACKS_QUEUE, JOBS_QUEUE, LANE_QUEUES, poisonQueueOf } from '../../shared/queues.js';
import type { Check } from './checks.js';

/**
 * One check per queue and table the app uses: the job queue and each lane's delivery queue with the poison queues
 * its functions read and the callbacks queue (shared/queues.ts), and its tables (shared/container.ts;
 * the budget table holds the producers' quotas too, so it is checked whatever TENANT_BUDGET says). Each is read, never written or created: the infra makes them
 * (infra/resources.bicep), so a missing one is a failure. No retries, so a refused connection is
 * reported at once instead of after the SDK's back-off.
 */
export function storageProbes(storage: StorageSettings): Check[] {
  const queues = [
    ...[JOBS_QUEUE, ...Object.values(LANE_QUEUES)].flatMap((q) => [q, poisonQueueOf(q)]),
    CALLBACKS_QUEUE,
  ];
  const tables = Object.values(TABLES);
  return [
    ...queues.map((name): Check => {
      const client = queueClient(storage, name, { retryOptions: { maxTries: 1 } });
      return {
        name: `queue ${name}`,
        run: async (abortSignal) => {
          await client.getProperties({ abortSignal });
          return [];
        },
      };
    }),
    ...tables.map((name): Check => {
      const client = tableClient(storage, name, { retryOptions: { maxRetries: 0 } });
      return {
        name: `table ${name}`,
        run: async (abortSignal) => {
          // One page of at most one row of one partition: answers TableNotFound for a missing table.
          const filter = "PartitionKey eq 'health'";
          await client
            .listEntities({ queryOptions: { filter }, abortSignal })
            .byPage({ maxPageSize: 1 })
            .next();
          return [];
        },
      };
    }),
  ];
}
