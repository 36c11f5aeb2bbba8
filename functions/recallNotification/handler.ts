import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { services } from '../../shared/container.js';
import { recallJob } from '../../shared/followUps/requestChange.js';
import { jobRefParam } from '../../shared/triggers/jobRefParam.js';
import { admitRequest } from '../../shared/triggers/producerRequest.js';
import { changeAnswer, ownerRefusal } from './answer.js';

export async function handleRecallNotification(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const { config, jobs } = services();
  const admitted = await admitRequest(request, 'recall', config);
  if ('refused' in admitted) return admitted.refused;
  const ref = jobRefParam(request, config);
  if ('refused' in ref) return ref.refused;
  const other = await ownerRefusal(jobs, ref, admitted.caller);
  if (other) return other;
  return changeAnswer(request, context, 'recall', await recallJob(ref, services()));
}
