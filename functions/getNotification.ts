import { app } from '@azure/functions';
import { lazy } from '../shared/handlers/lazy.js';

app.http('getNotification', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'notifications/{id}',
  handler: lazy(async () => (await import('../shared/handlers/notificationsApi.js')).handleGetNotification),
});
