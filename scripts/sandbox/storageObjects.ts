/**
 * The queues and tables the app uses, made in the sandbox's Azurite before the app starts, as
 * infra/resources.bicep makes them in Azure: the app creates tables only on first use, so without
 * this `GET /api/health` would name them missing until the first job ran.
 */
import { readStorageSettings } from '../../shared/config.js';
import { queueClient, tableClient } from '../../shared/azureStorage/connection.js';
import { TABLES } from '../../shared/container.js';
import { CALLBACKS_QUEUE, JOBS_QUEUE, LANE_QUEUES, poisonQueueOf } from '../../shared/queues.js';

const QUEUES = [JOBS_QUEUE, ...Object.values(LANE_QUEUES), CALLBACKS_QUEUE].flatMap((q) => [
  q,
  poisonQueueOf(q),
]);

export async function createStorageObjects(connectionString: string): Promise<void> {
  const storage = readStorageSettings({ AzureWebJobsStorage: connectionString });
  await Promise.all([
    ...QUEUES.map((queue) => queueClient(storage, queue).createIfNotExists()),
    ...Object.values(TABLES).map((table) => tableClient(storage, table).createTable()),
  ]);
}
