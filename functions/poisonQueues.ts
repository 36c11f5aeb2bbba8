import { app } from '@azure/functions';
import { lazy } from '../shared/handlers/lazy.js';
import { DELIVERIES_QUEUE, JOBS_QUEUE, poisonQueueOf } from '../shared/queue/queues.js';

// Nothing that lands in a poison queue stays unseen: each message becomes a record and an event.
app.storageQueue('notificationJobsPoison', {
  queueName: poisonQueueOf(JOBS_QUEUE),
  connection: 'AzureWebJobsStorage',
  handler: lazy(async () => (await import('../shared/handlers/poisonQueues.js')).handlePoisonedJob),
});

app.storageQueue('notificationDeliveriesPoison', {
  queueName: poisonQueueOf(DELIVERIES_QUEUE),
  connection: 'AzureWebJobsStorage',
  handler: lazy(async () => (await import('../shared/handlers/poisonQueues.js')).handlePoisonedDelivery),
});
