import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import schema from '../jobs/notification-job.v1.schema.json' with { type: 'json' };

/** A job ID as the job contract allows it: the schema's `id` pattern. */
const JOB_ID = new RegExp(schema.properties.id.pattern);

/**
 * The `{id}` of /api/notifications/{id} (GET, PATCH, DELETE): the job ID, or the 400 to answer
 * when it cannot be one (it is used in table keys, so it is checked before any read).
 */
export function jobIdParam(request: HttpRequest): { id: string } | { refused: HttpResponseInit } {
  const id = request.params.id ?? '';
  if (JOB_ID.test(id)) return { id };
  return {
    refused: {
      status: 400,
      jsonBody: { error: 'InvalidJobId', errors: ['job IDs use letters, digits and . _ : -'] },
    },
  };
}
