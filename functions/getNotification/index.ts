import { app } from '@azure/functions';
import { lazy } from '../../shared/triggers/lazy.js';

/** GET /api/notifications/{id} (a key or an Entra token, shared/auth/): a job's per-recipient outcomes. */
app.http('getNotification', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'notifications/{id}',
  handler: lazy(async () => (await import('./handler.js')).handleGetNotification),
});
