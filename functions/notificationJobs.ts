import { app } from '@azure/functions';
import { handleJobMessage } from '../shared/handlers/notificationJobs.js';
import { JOBS_QUEUE } from '../shared/queue/queues.js';

app.storageQueue('notificationJobs', {
  queueName: JOBS_QUEUE,
  connection: 'AzureWebJobsStorage',
  handler: handleJobMessage,
});
