import { app } from '@azure/functions';
import { handleGetNotification } from '../shared/handlers/notificationsApi.js';

app.http('getNotification', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'notifications/{id}',
  handler: handleGetNotification,
});
