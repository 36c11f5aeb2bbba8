import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { ChangeRequestResult } from '../../shared/followUps/requestChange.js';
import { statusUrlOf } from '../../shared/triggers/jobRefParam.js';
import type { Caller } from '../../shared/auth/roles.js';
import type { JobRef, JobStore } from '../../shared/stores/jobs.js';
import { notOwner } from '../../shared/triggers/producerRequest.js';

/** Another producer's job is refused before anything changes (a job that is not there answers 404 later). */
export async function ownerRefusal(
  jobs: JobStore,
  ref: JobRef,
  caller: Caller,
): Promise<HttpResponseInit | undefined> {
  const job = await jobs.get(ref.tenantId, ref.jobId);
  return job ? notOwner(caller, ref.jobId, job.producer) : undefined;
}

/**
 * What PATCH and DELETE /api/notifications/{id} answer: 202 with the status URL once the change is
 * recorded and its fan-out queued (the status then shows it going out), or what is wrong.
 */
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
  const statusUrl = statusUrlOf(request, result);
  context.log(`job ${result.jobId}: ${op} accepted (revision ${result.revision}), fan-out queued`);
  return {
    status: 202,
    headers: { location: statusUrl },
    jsonBody: {
      jobId: result.jobId,
      tenantId: result.tenantId,
      statusUrl,
      revision: result.revision,
      recalled: result.recalled,
      ...(result.recallRequestedAt ? { recallRequestedAt: result.recallRequestedAt } : {}),
      ...(result.recalledAt ? { recalledAt: result.recalledAt } : {}),
    },
  };
}
