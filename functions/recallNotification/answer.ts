import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { ChangeRequestResult } from '../../shared/followUps/requestChange.js';

/** What PATCH and DELETE /api/notifications/{id} answer: 202 with the status URL, or what is wrong. */

export function changeAnswer(
  request: HttpRequest,
  context: InvocationContext,
  op: 'update' | 'recall',
  result: ChangeRequestResult,
): HttpResponseInit {
  if (!result.ok) {
    context.warn(`job ${request.params.id ?? '?'}: ${op} refused: ${result.status} ${result.error}`);
    return { status: result.status, jsonBody: { error: result.error, errors: result.errors } };
  }
  const statusUrl = `${new URL(request.url).origin}/api/notifications/${encodeURIComponent(result.jobId)}`;
  context.log(
    `job ${result.jobId}: ${op} accepted (revision ${result.revision}, ${result.tasks} copies to change)`,
  );
  return {
    status: 202,
    headers: { location: statusUrl },
    jsonBody: {
      jobId: result.jobId,
      statusUrl,
      revision: result.revision,
      recalled: result.recalled,
      ...(result.recalledAt ? { recalledAt: result.recalledAt } : {}),
      changes: result.tasks,
    },
  };
}
