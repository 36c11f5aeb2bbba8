import { app } from '@azure/functions';
import { lazy } from '../shared/handlers/lazy.js';
import { reportInboundAuthentication } from '../shared/handlers/startup.js';

reportInboundAuthentication();

app.http('messages', {
  methods: ['POST'],
  authLevel: 'anonymous',
  route: 'messages',
  handler: lazy(async () => (await import('../shared/handlers/messages.js')).handleMessages),
});
