import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { services } from '../../shared/container.js';
import { recallJob } from '../../shared/followUps/requestChange.js';
import { jobRefParam } from '../../shared/triggers/jobRefParam.js';
import { changeAnswer } from './answer.js';

export async function handleRecallNotification(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const ref = jobRefParam(request, services().config);
  if ('refused' in ref) return ref.refused;
  return changeAnswer(request, context, 'recall', await recallJob(ref, services()));
}
