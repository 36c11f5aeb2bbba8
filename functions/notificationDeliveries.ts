import { app } from '@azure/functions';
import { handleDeliveryMessage } from '../shared/handlers/notificationDeliveries.js';
import { DELIVERIES_QUEUE } from '../shared/queue/queues.js';

app.storageQueue('notificationDeliveries', {
  queueName: DELIVERIES_QUEUE,
  connection: 'AzureWebJobsStorage',
  handler: handleDeliveryMessage,
});
