import { app } from '@azure/functions';
import { BULK_DELIVERIES_QUEUE, DELIVERIES_QUEUE, URGENT_DELIVERIES_QUEUE } from '../../shared/queues.js';
import { lazy } from '../../shared/triggers/lazy.js';

/**
 * Queue triggers on the deliveries queues, one per lane (shared/delivery/lanes.ts): the same handler
 * delivers each message's recipients. Each lane has its own listener, so an urgent or normal message
 * is read at once however many broadcast messages the bulk queue holds.
 */
app.storageQueue('notificationDeliveries', {
  queueName: DELIVERIES_QUEUE,
  connection: 'AzureWebJobsStorage',
  handler: lazy(async () => (await import('./handler.js')).deliveryHandlerFor(DELIVERIES_QUEUE)),
});

app.storageQueue('notificationUrgentDeliveries', {
  queueName: URGENT_DELIVERIES_QUEUE,
  connection: 'AzureWebJobsStorage',
  handler: lazy(async () => (await import('./handler.js')).deliveryHandlerFor(URGENT_DELIVERIES_QUEUE)),
});

app.storageQueue('notificationBulkDeliveries', {
  queueName: BULK_DELIVERIES_QUEUE,
  connection: 'AzureWebJobsStorage',
  handler: lazy(async () => (await import('./handler.js')).deliveryHandlerFor(BULK_DELIVERIES_QUEUE)),
});
