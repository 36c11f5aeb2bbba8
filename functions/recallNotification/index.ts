import { app } from '@azure/functions';
import { lazy } from '../../shared/triggers/lazy.js';

/** DELETE /api/notifications/{id} (function key): delete every sent copy, cancel the rest. */
app.http('recallNotification', {
  methods: ['DELETE'],
  authLevel: 'function',
  route: 'notifications/{id}',
  handler: lazy(async () => (await import('./handler.js')).handleRecallNotification),
});
