import { app } from '@azure/functions';
import { lazy } from '../../shared/triggers/lazy.js';

/** DELETE /api/notifications/{id} (a key or an Entra token, shared/auth/): delete every sent copy, cancel the rest. */
app.http('recallNotification', {
  methods: ['DELETE'],
  authLevel: 'anonymous',
  route: 'notifications/{id}',
  handler: lazy(async () => (await import('./handler.js')).handleRecallNotification),
});
