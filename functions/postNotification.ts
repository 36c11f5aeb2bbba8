import { app } from '@azure/functions';
import { handlePostNotification } from '../shared/handlers/notificationsApi.js';

app.http('postNotification', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'notifications',
  handler: handlePostNotification,
});
