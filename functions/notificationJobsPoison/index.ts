import { app } from '@azure/functions';
import { JOBS_QUEUE, poisonQueueOf } from '../../shared/queues.js';
import { lazy } from '../../shared/triggers/lazy.js';

/** Queue trigger on notification-jobs-poison: each job that lands there becomes a RejectedJobs row. */
app.storageQueue('notificationJobsPoison', {
  queueName: poisonQueueOf(JOBS_QUEUE),
  connection: 'AzureWebJobsStorage',
  handler: lazy(async () => (await import('./handler.js')).handlePoisonedJob),
});
