import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { services } from '../../shared/container.js';
import { enqueueJob } from '../../shared/jobs/enqueue.js';
import { checkJob } from '../../shared/jobs/intake.js';
import { EventNames, telemetry } from '../../shared/telemetry/telemetry.js';
import { readLimitedBody } from '../../shared/triggers/httpBody.js';

const MAX_BODY_BYTES = 256 * 1024;

function statusUrl(request: HttpRequest, jobId: string): string {
  const url = new URL(request.url);
  return `${url.origin}/api/notifications/${encodeURIComponent(jobId)}`;
}

/** A job refused at the door: the caller gets the reason, ops get a JobRejected event. */
function refuse(status: number, error: string, errors: string[], jobId?: string): HttpResponseInit {
  telemetry().event(EventNames.jobRejected, {
    reason: error,
    source: 'http',
    jobId,
    errorCount: errors.length,
  });
  return { status, jsonBody: { error, errors } };
}

export async function handlePostNotification(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const body = await readLimitedBody(request, MAX_BODY_BYTES);
  if (!body.ok) {
    return refuse(413, 'PayloadTooLarge', [`body over ${MAX_BODY_BYTES} bytes`]);
  }
  let input: unknown;
  try {
    input = JSON.parse(body.text);
  } catch {
    return refuse(400, 'InvalidJson', ['request body is not valid JSON']);
  }
  const { config, jobQueue } = services();
  const result = checkJob(input, config);
  if (!result.ok) {
    const status = result.reason === 'TenantNotAllowed' ? 403 : 400;
    return refuse(status, result.reason, result.errors, result.jobId);
  }
  const job = result.job;
  const sent = await enqueueJob(job, jobQueue);
  if (!sent.ok) {
    return refuse(
      400,
      'JobTooLarge',
      ['the job does not fit in a 64 KiB queue message: split the recipients'],
      job.id,
    );
  }
  context.log(`job ${result.job.id}: accepted over HTTP for ${result.job.recipients.length} recipients`);
  const location = statusUrl(request, result.job.id);
  return {
    status: 202,
    headers: { location },
    jsonBody: { jobId: result.job.id, statusUrl: location, recipients: result.job.recipients.length },
  };
}
