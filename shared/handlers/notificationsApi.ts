import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { services } from '../container.js';
import { contentHash, MAX_QUEUE_MESSAGE_BYTES, toWireJob } from '../jobs/contract.js';
import { checkJob } from '../jobs/intake.js';
import { getJobStatus } from '../jobs/status.js';
import { encodeMessage } from '../queue/queues.js';
import { EventNames, telemetry } from '../telemetry/telemetry.js';
import { withProducerSpan } from '../telemetry/traceContext.js';
import { readLimitedBody } from './body.js';

/** POST /api/notifications and GET /api/notifications/{id} (function key). */

const MAX_BODY_BYTES = 256 * 1024;

function statusUrl(request: HttpRequest, jobId: string): string {
  const url = new URL(request.url);
  return `${url.origin}/api/notifications/${encodeURIComponent(jobId)}`;
}

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
  const { config, jobsQueue } = services();
  // The same reading as the queue: plain or base64 JSON, with or without a BOM.
  const result = await checkJob(body.text, config);
  if (!result.ok) {
    const status = result.reason === 'TenantNotAllowed' ? 403 : 400;
    return refuse(context, status, result.reason, result.errors, result.jobId);
  }
  const job = result.job;
  // A reused ID is refused now, not later on the queue where the producer would not hear of it.
  const existing = await services().jobs.get(job.id);
  if (existing && existing.contentHash !== contentHash(job)) {
    return refuse(
      context,
      409,
      'DuplicateJobId',
      [`/id: job ${job.id} was already accepted with different content; use a new ID`],
      job.id,
    );
  }
  // The job carries this request's trace (via the enqueue span) unless the caller set its own.
  const tooLarge = await withProducerSpan(
    'Enqueue notification job',
    { jobId: job.id, tenantId: job.tenantId },
    async (traceparent) => {
      const wire = toWireJob({ ...job, traceparent: job.traceparent ?? traceparent });
      if (Buffer.byteLength(encodeMessage(wire)) > MAX_QUEUE_MESSAGE_BYTES) return true;
      await jobsQueue.send(wire);
      return false;
    },
  );
  if (tooLarge) {
    return refuse(
      context,
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

export async function handleGetNotification(request: HttpRequest): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/.test(id)) {
    return {
      status: 400,
      jsonBody: { error: 'InvalidJobId', errors: ['job IDs use letters, digits and . _ : -'] },
    };
  }
  const { jobs, deliveryRecords, rejected } = services();
  const status = await getJobStatus(id, { jobs, deliveries: deliveryRecords, rejected });
  if (!status) return { status: 404, jsonBody: { error: 'NotFound', errors: [`no job ${id}`] } };
  return { status: 200, jsonBody: status };
}
