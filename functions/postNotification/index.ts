import { app } from '@azure/functions';
import { lazy } from '../../shared/triggers/lazy.js';

/**
 * POST /api/notifications: validate a job and put it on the jobs queue. Anonymous to the host so a
 * Microsoft Entra token gets in without a function key; the handler's own door (shared/auth/)
 * admits a token or a key and answers 401 to neither.
 */
app.http('postNotification', {
  methods: ['POST'],
  authLevel: 'anonymous',
  route: 'notifications',
  handler: lazy(async () => (await import('./handler.js')).handlePostNotification),
});
