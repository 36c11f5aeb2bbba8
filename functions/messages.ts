import { app } from '@azure/functions';
import { lazy } from '../shared/handlers/lazy.js';
import { warnIfAuthenticationDisabled } from '../shared/handlers/startup.js';

warnIfAuthenticationDisabled();

app.http('messages', {
  methods: ['POST'],
  authLevel: 'anonymous',
  route: 'messages',
  handler: lazy(async () => (await import('../shared/handlers/messages.js')).handleMessages),
});
