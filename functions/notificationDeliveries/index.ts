import { app } from '@azure/functions';
import { DELIVERIES_QUEUE } from '../../shared/queues.js';
import { lazy } from '../../shared/triggers/lazy.js';

/** Queue trigger on notification-deliveries: deliver to one recipient. */
app.storageQueue('notificationDeliveries', {
  queueName: DELIVERIES_QUEUE,
  connection: 'AzureWebJobsStorage',
  handler: lazy(async () => (await import('./handler.js')).handleDeliveryMessage),
});
