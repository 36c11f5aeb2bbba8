import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { services } from '../../shared/container.js';
import { recallJob } from '../../shared/followUps/requestChange.js';
import { jobIdParam } from '../../shared/triggers/jobIdParam.js';
import { changeAnswer } from './answer.js';

export async function handleRecallNotification(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const param = jobIdParam(request);
  if ('refused' in param) return param.refused;
  const { id } = param;
  return changeAnswer(request, context, 'recall', await recallJob(id, services()));
}
