import { app } from '@azure/functions';
import { lazy } from '../../shared/triggers/lazy.js';

/** PATCH /api/notifications/{id} (a key or an Entra token, shared/auth/): replace the message everywhere it was or will be sent. */
app.http('updateNotification', {
  methods: ['PATCH'],
  authLevel: 'anonymous',
  route: 'notifications/{id}',
  handler: lazy(async () => (await import('./handler.js')).handleUpdateNotification),
});
