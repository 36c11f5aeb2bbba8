import { app } from '@azure/functions';
import { JOBS_QUEUE } from '../../shared/queues.js';
import { lazy } from '../../shared/triggers/lazy.js';

/** Queue trigger on notification-jobs: validate, record and fan out one delivery per recipient. */
app.storageQueue('notificationJobs', {
  queueName: JOBS_QUEUE,
  connection: 'AzureWebJobsStorage',
  handler: lazy(async () => (await import('./handler.js')).handleJobMessage),
});
