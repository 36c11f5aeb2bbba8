import { app } from '@azure/functions';
import { lazy } from '../../shared/triggers/lazy.js';

/**
 * GET /api/health (anonymous): 200 when the configuration is complete and every queue and table the
 * app uses answers, else 503 naming what is missing or failing. No key, so an Application Insights
 * availability test or a load balancer probe can call it; it reveals only check names and error
 * codes, and storage is asked at most once per CACHE_MS however often it is called (checks.ts).
 */
app.http('health', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'health',
  handler: lazy(async () => (await import('./handler.js')).handleHealth),
});
