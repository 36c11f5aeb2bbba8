import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { services } from '../container.js';
import { MAX_QUEUE_MESSAGE_BYTES, toWireJob } from '../jobs/contract.js';
import { checkJob } from '../jobs/intake.js';
import { getJobStatus } from '../jobs/status.js';
import { encodeMessage } from '../queue/queues.js';
import { currentTraceparent } from '../telemetry/traceContext.js';
import { readLimitedBody } from './body.js';

/** POST /api/notifications and GET /api/notifications/{id} (function key). */

const MAX_BODY_BYTES = 256 * 1024;

function statusUrl(request: HttpRequest, jobId: string): string {
  const url = new URL(request.url);
  return `${url.origin}/api/notifications/${encodeURIComponent(jobId)}`;
}

export async function handlePostNotification(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const body = await readLimitedBody(request, MAX_BODY_BYTES);
  if (!body.ok) {
    return {
      status: 413,
      jsonBody: { error: 'PayloadTooLarge', errors: [`body over ${MAX_BODY_BYTES} bytes`] },
    };
  }
  let input: unknown;
  try {
    input = JSON.parse(body.text);
  } catch {
    return { status: 400, jsonBody: { error: 'InvalidJson', errors: ['request body is not valid JSON'] } };
  }
  const { config, jobsQueue } = services();
  if (input && typeof input === 'object' && !('traceparent' in input)) {
    const traceparent = currentTraceparent();
    if (traceparent) (input as Record<string, unknown>).traceparent = traceparent;
  }
  const result = checkJob(input, config);
  if (!result.ok) {
    const status = result.reason === 'TenantNotAllowed' ? 403 : 400;
    return { status, jsonBody: { error: result.reason, errors: result.errors } };
  }
  const wire = toWireJob(result.job);
  if (Buffer.byteLength(encodeMessage(wire)) > MAX_QUEUE_MESSAGE_BYTES) {
    return {
      status: 400,
      jsonBody: {
        error: 'JobTooLarge',
        errors: ['the job does not fit in a 64 KiB queue message: split the recipients'],
      },
    };
  }
  await jobsQueue.send(wire);
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
  const { jobs, deliveryRecords } = services();
  const status = await getJobStatus(id, { jobs, deliveries: deliveryRecords });
  if (!status) return { status: 404, jsonBody: { error: 'NotFound', errors: [`no job ${id}`] } };
  return { status: 200, jsonBody: status };
}
