import { app } from '@azure/functions';
import { lazy } from '../shared/handlers/lazy.js';
import { JOBS_QUEUE } from '../shared/queue/queues.js';

app.storageQueue('notificationJobs', {
  queueName: JOBS_QUEUE,
  connection: 'AzureWebJobsStorage',
  handler: lazy(async () => (await import('../shared/handlers/notificationJobs.js')).handleJobMessage),
});
