import { app } from '@azure/functions';
import { CALLBACKS_QUEUE } from '../../shared/queues.js';
import { lazy } from '../../shared/triggers/lazy.js';

/** Queue trigger on notification-callbacks: one attempt to POST a job's CloudEvent to its callback. */
app.storageQueue('notificationCallbacks', {
  queueName: CALLBACKS_QUEUE,
  connection: 'AzureWebJobsStorage',
  handler: lazy(async () => (await import('./handler.js')).handleCallbackMessage),
});
