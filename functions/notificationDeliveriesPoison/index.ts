import { app } from '@azure/functions';
import {
  BULK_DELIVERIES_QUEUE,
  DELIVERIES_QUEUE,
  URGENT_DELIVERIES_QUEUE,
  poisonQueueOf,
} from '../../shared/queues.js';
import { lazy } from '../../shared/triggers/lazy.js';

/** Queue triggers on each lane's deliveries poison queue: each delivery that lands there is recorded failed. */
app.storageQueue('notificationDeliveriesPoison', {
  queueName: poisonQueueOf(DELIVERIES_QUEUE),
  connection: 'AzureWebJobsStorage',
  handler: lazy(async () => (await import('./handler.js')).poisonHandlerFor(DELIVERIES_QUEUE)),
});

app.storageQueue('notificationUrgentDeliveriesPoison', {
  queueName: poisonQueueOf(URGENT_DELIVERIES_QUEUE),
  connection: 'AzureWebJobsStorage',
  handler: lazy(async () => (await import('./handler.js')).poisonHandlerFor(URGENT_DELIVERIES_QUEUE)),
});

app.storageQueue('notificationBulkDeliveriesPoison', {
  queueName: poisonQueueOf(BULK_DELIVERIES_QUEUE),
  connection: 'AzureWebJobsStorage',
  handler: lazy(async () => (await import('./handler.js')).poisonHandlerFor(BULK_DELIVERIES_QUEUE)),
});
