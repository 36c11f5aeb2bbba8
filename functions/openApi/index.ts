import { app } from '@azure/functions';
import { lazy } from '../../shared/triggers/lazy.js';

/**
 * GET /api/openapi.json (anonymous): the API's OpenAPI 3.1 document, so client generators and API
 * catalogues can read it without a key. It describes routes and shapes only (docs/security.md).
 */
app.http('openApi', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'openapi.json',
  handler: lazy(async () => (await import('./handler.js')).handleOpenApi),
});
