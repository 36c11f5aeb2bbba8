import jobSchema from '../jobs/notification-job.v1.schema.json' with { type: 'json' };
import { JOB_ID } from '../jobs/recipient.js';
import { ROLES } from '../auth/roles.js';
import { Accepted, ChangeAccepted, Health, JobStatus, Problem } from './schemas.js';

/**
 * The OpenAPI 3.1 document of every HTTP route producers use, served at GET /api/openapi.json
 * (functions/openApi/). The job is the contract's own schema file, placed in the document as it is
 * (its dialect, JSON Schema 2020-12, is OpenAPI 3.1's): one source of truth, never a copy. Each
 * operation lists every status it answers; test/openapi.test.ts checks real answers against them.
 */

const json = (schema: object) => ({ 'application/json': { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const problem = (description: string, headers?: object) => ({
  description,
  content: json(ref('Problem')),
  ...(headers ? { headers } : {}),
});
const location = { Location: { description: "The job's status URL.", schema: { type: 'string' } } };

const refusals = {
  '401': problem('No valid key or token (`WWW-Authenticate` says which).', {
    'WWW-Authenticate': { schema: { type: 'string' } },
  }),
  '403': problem(
    `The token lacks the app role (RoleRequired), the tenant is not allowed (TenantNotAllowed), or the job is another producer's (NotJobOwner; ${ROLES.admin} may).`,
  ),
};
const jobParams = [
  {
    name: 'id',
    in: 'path',
    required: true,
    description: 'The job ID.',
    schema: { type: 'string', pattern: JOB_ID.source },
  },
  {
    name: 'tenantId',
    in: 'query',
    required: false,
    description: "The job's tenant; DEFAULT_TENANT_ID when absent.",
    schema: { type: 'string' },
  },
];
const security = (role: string) => [{ entra: [role] }, { functionKey: [] }, { functionKeyQuery: [] }];

/** The API's version follows the job contract's (v1); a breaking change would be a v2 beside it. */
export const API_VERSION = '1.0.0';

/** The document; `origin` (the app's, as the request that asked for it reached it) makes the server URL absolute. */
export function openApiDocument(origin = '') {
  return {
    openapi: '3.1.0',
    // Every schema here is plain JSON Schema 2020-12, the job contract's own dialect ($schema in its file).
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Teams Notifier',
      version: API_VERSION,
      description:
        'Send Microsoft Teams users 1:1 notifications from a bot, see how each was delivered, update or recall them. Sign in with a Microsoft Entra token for the app (app roles) or a key.',
    },
    servers: [{ url: `${origin}/api` }],
    paths: {
      '/notifications': {
        post: {
          operationId: 'sendNotification',
          summary: 'Accept a job: validate it, record it and queue its deliveries.',
          security: security(ROLES.send),
          requestBody: { required: true, content: json(ref('NotificationJob')) },
          responses: {
            '202': { description: 'Accepted.', headers: location, content: json(ref('Accepted')) },
            '400': problem('The job is invalid (reason and errors).'),
            ...refusals,
            '409': problem('The job ID was already accepted with other content or from another producer.'),
            '413': problem('The body is over 256 KiB.'),
            '429': problem("Over the producer's quota; try again after Retry-After seconds.", {
              'Retry-After': { schema: { type: 'integer' } },
            }),
          },
        },
      },
      '/notifications/{id}': {
        get: {
          operationId: 'getNotification',
          summary: "A job's status: totals and per-recipient outcomes.",
          security: security(ROLES.read),
          parameters: [
            ...jobParams,
            {
              name: 'status',
              in: 'query',
              schema: { enum: ['pending', 'sent', 'failed', 'skipped', 'recalled', 'cancelled'] },
            },
            { name: 'pageSize', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
            { name: 'continuationToken', in: 'query', schema: { type: 'string' } },
          ],
          responses: {
            '200': { description: "The job's status.", content: json(ref('JobStatus')) },
            '400': problem('A malformed job ID, tenant or filter.'),
            ...refusals,
            '404': problem('No such job in the tenant.'),
          },
        },
        patch: {
          operationId: 'updateNotification',
          summary: 'Replace the message everywhere it was or will be sent.',
          security: security(ROLES.send),
          parameters: jobParams,
          requestBody: {
            required: true,
            content: json({
              type: 'object',
              required: ['message'],
              // The job's own message schema, taken from the contract file when the document is made.
              properties: { message: jobSchema.properties.message },
            }),
          },
          responses: {
            '202': {
              description: 'The update is recorded.',
              headers: location,
              content: json(ref('ChangeAccepted')),
            },
            '400': problem('A malformed job ID or tenant, or an invalid message.'),
            ...refusals,
            '404': problem('No such job in the tenant.'),
            '409': problem('The job was recalled, or cannot be changed.'),
            '413': problem('The body is over 64 KiB.'),
          },
        },
        delete: {
          operationId: 'recallNotification',
          summary: 'Recall the job: delete every sent copy, cancel the rest.',
          security: security(ROLES.send),
          parameters: jobParams,
          responses: {
            '202': {
              description: 'The recall is recorded.',
              headers: location,
              content: json(ref('ChangeAccepted')),
            },
            '400': problem('A malformed job ID or tenant.'),
            ...refusals,
            '404': problem('No such job in the tenant.'),
            '409': problem('The job cannot be changed.'),
          },
        },
      },
      '/health': {
        get: {
          operationId: 'getHealth',
          summary: 'Whether settings and storage are fine (no key: for probes).',
          security: [],
          responses: {
            '200': { description: 'Healthy.', content: json(ref('Health')) },
            '503': { description: 'Something named is wrong.', content: json(ref('Health')) },
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'getOpenApi',
          summary: 'This document (no key: for client generators).',
          security: [],
          responses: { '200': { description: 'The OpenAPI document.', content: json({ type: 'object' }) } },
        },
      },
    },
    components: {
      schemas: { NotificationJob: jobSchema, Accepted, ChangeAccepted, JobStatus, Health, Problem },
      securitySchemes: {
        entra: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: `A Microsoft Entra v2.0 access token for the app (scope api://botid-<app ID>/.default), carrying the app role each operation names: ${Object.values(ROLES).join(', ')}.`,
        },
        functionKey: { type: 'apiKey', in: 'header', name: 'x-functions-key' },
        functionKeyQuery: { type: 'apiKey', in: 'query', name: 'code' },
      },
    },
  };
}
