import { app } from '@azure/functions';
import { lazy } from '../../shared/triggers/lazy.js';

/** POST /api/notifications (function key): validate a job and put it on the jobs queue. */
app.http('postNotification', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'notifications',
  handler: lazy(async () => (await import('./handler.js')).handlePostNotification),
});
