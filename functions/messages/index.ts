import { app } from '@azure/functions';
import { lazy } from '../../shared/triggers/lazy.js';
import { reportInboundAuthentication } from './authWarning.js';

/** POST /api/messages: Teams activities for the bot (JWT-checked by botbuilder's CloudAdapter). */

reportInboundAuthentication();

app.http('messages', {
  methods: ['POST'],
  authLevel: 'anonymous',
  route: 'messages',
  handler: lazy(async () => (await import('./handler.js')).handleMessages),
});
