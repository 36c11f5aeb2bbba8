import { app } from '@azure/functions';
import { lazy } from '../../shared/triggers/lazy.js';

/** PATCH /api/notifications/{id} (function key): replace the message everywhere it was or will be sent. */
app.http('updateNotification', {
  methods: ['PATCH'],
  authLevel: 'function',
  route: 'notifications/{id}',
  handler: lazy(async () => (await import('./handler.js')).handleUpdateNotification),
});
