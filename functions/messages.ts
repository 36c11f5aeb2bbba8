import { app } from '@azure/functions';
import { handleMessages } from '../shared/handlers/messages.js';
import { warnIfAuthenticationDisabled } from '../shared/handlers/startup.js';

warnIfAuthenticationDisabled();

app.http('messages', {
  methods: ['POST'],
  authLevel: 'anonymous',
  route: 'messages',
  handler: handleMessages,
});
