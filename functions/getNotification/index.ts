import { app } from '@azure/functions';
import { lazy } from '../../shared/triggers/lazy.js';

/** GET /api/notifications/{id} (function key): a job's per-recipient outcomes. */
app.http('getNotification', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'notifications/{id}',
  handler: lazy(async () => (await import('./handler.js')).handleGetNotification),
});
