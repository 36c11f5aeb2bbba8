import { app } from '@azure/functions';
import { lazy } from '../shared/handlers/lazy.js';

app.http('postNotification', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'notifications',
  handler: lazy(async () => (await import('../shared/handlers/notificationsApi.js')).handlePostNotification),
});
