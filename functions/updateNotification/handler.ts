import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { services } from '../../shared/container.js';
import { updateJob } from '../../shared/followUps/requestChange.js';
import { decodeJobText } from '../../shared/jobs/decode.js';
import type { NotificationMessage } from '../../shared/jobs/contract.js';
import { readLimitedBody } from '../../shared/triggers/httpBody.js';
import { jobRefParam } from '../../shared/triggers/jobRefParam.js';
import { admitRequest } from '../../shared/triggers/producerRequest.js';
import { changeAnswer, ownerRefusal } from '../recallNotification/answer.js';

const MAX_BODY_BYTES = 64 * 1024;

/** Body: `{ "message": { "text"?, "card"?, "summary"? } }`, the same message shape as a job's. */
export async function handleUpdateNotification(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const { config, jobs } = services();
  const admitted = await admitRequest(request, 'update', config);
  if ('refused' in admitted) return admitted.refused;
  const ref = jobRefParam(request, config);
  if ('refused' in ref) return ref.refused;
  const other = await ownerRefusal(jobs, ref, admitted.caller);
  if (other) return other;
  const body = await readLimitedBody(request, MAX_BODY_BYTES);
  if (!body.ok)
    return {
      status: 413,
      jsonBody: { error: 'PayloadTooLarge', errors: [`body over ${MAX_BODY_BYTES} bytes`] },
    };
  const decoded = decodeJobText(body.text);
  const message = decoded.ok ? (decoded.value as { message?: unknown } | null)?.message : undefined;
  if (!decoded.ok || !message || typeof message !== 'object') {
    return {
      status: 400,
      jsonBody: { error: 'InvalidBody', errors: ['expected { "message": { "text" or "card" } }'] },
    };
  }
  const result = await updateJob(ref, message as NotificationMessage, services());
  return changeAnswer(request, context, 'update', result);
}
