import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { services } from '../../shared/container.js';
import { enqueueJob } from '../../shared/jobs/enqueue.js';
import { checkJob } from '../../shared/jobs/intake.js';
import { EventNames, telemetry } from '../../shared/telemetry/telemetry.js';
import { readLimitedBody } from '../../shared/triggers/httpBody.js';
import { statusUrlOf } from '../../shared/triggers/jobRefParam.js';

const MAX_BODY_BYTES = 256 * 1024;

/**
 * A job refused at the door: the caller gets the reason, ops get a JobRejected event and a log
 * line with the reason code (not the errors: they can quote the job's content).
 */
function refuse(
  context: InvocationContext,
  status: number,
  error: string,
  errors: string[],
  jobId?: string,
): HttpResponseInit {
  context.warn(`job ${jobId ?? '(no id)'} refused over HTTP: ${status} ${error} (${errors.length} errors)`);
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
    return refuse(context, 413, 'PayloadTooLarge', [`body over ${MAX_BODY_BYTES} bytes`]);
  }
  const { config, jobQueue, intake } = services();
  // The same reading as the queue: plain or base64 JSON, with or without a BOM.
  const result = await checkJob(body.text, config);
  if (!result.ok) {
    const status = result.reason === 'TenantNotAllowed' ? 403 : 400;
    return refuse(context, status, result.reason, result.errors, result.jobId);
  }
  const job = result.job;
  // A reused ID is refused now, not later on the queue where the producer would not hear of it.
  const reused = await intake.reusedId(job);
  if (reused) return refuse(context, 409, reused.reason, reused.errors, job.id);
  const sent = await enqueueJob(job, jobQueue);
  if (!sent.ok) {
    return refuse(
      context,
      400,
      'JobTooLarge',
      ['the job does not fit in a 64 KiB queue message: split the recipients'],
      job.id,
    );
  }
  context.log(`job ${result.job.id}: accepted over HTTP for ${result.job.recipients.length} recipients`);
  const location = statusUrlOf(request, { tenantId: job.tenantId, jobId: job.id });
  return {
    status: 202,
    headers: { location },
    jsonBody: {
      jobId: result.job.id,
      tenantId: job.tenantId,
      statusUrl: location,
      recipients: result.job.recipients.length,
      // Teams and allUsers are expanded after acceptance; the status URL shows how far.
      ...(result.job.audience ? { audience: result.job.audience } : {}),
    },
  };
}
