import { app } from '@azure/functions';
import { DELIVERIES_QUEUE, poisonQueueOf } from '../../shared/queues.js';
import { lazy } from '../../shared/triggers/lazy.js';

/** Queue trigger on notification-deliveries-poison: each delivery that lands there is recorded failed. */
app.storageQueue('notificationDeliveriesPoison', {
  queueName: poisonQueueOf(DELIVERIES_QUEUE),
  connection: 'AzureWebJobsStorage',
  handler: lazy(async () => (await import('./handler.js')).handlePoisonedDelivery),
});
