import { app } from '@azure/functions';
import { lazy } from '../shared/handlers/lazy.js';
import { DELIVERIES_QUEUE } from '../shared/queue/queues.js';

app.storageQueue('notificationDeliveries', {
  queueName: DELIVERIES_QUEUE,
  connection: 'AzureWebJobsStorage',
  handler: lazy(
    async () => (await import('../shared/handlers/notificationDeliveries.js')).handleDeliveryMessage,
  ),
});
