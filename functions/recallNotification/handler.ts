import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { services } from '../../shared/container.js';
import { recallJob } from '../../shared/followUps/requestChange.js';
import { changeAnswer, invalidId } from './answer.js';

export async function handleRecallNotification(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  const bad = invalidId(id);
  if (bad) return bad;
  return changeAnswer(request, context, 'recall', await recallJob(id, services()));
}
