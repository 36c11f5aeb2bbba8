import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { mayTouchJob, producerOf, type Caller } from '../../shared/auth/roles.js';
import { services } from '../../shared/container.js';
import type { NotificationJob } from '../../shared/jobs/contract.js';
import { contentHash } from '../../shared/jobs/contract.js';
import { enqueueJob, fitsQueueMessage } from '../../shared/jobs/enqueue.js';
import { checkJob } from '../../shared/jobs/intake.js';
import { laneOf } from '../../shared/jobs/priority.js';
import { quotaMessage } from '../../shared/quotas/policy.js';
import { EventNames, MetricNames, telemetry } from '../../shared/telemetry/telemetry.js';
import { plural } from '../../shared/text.js';
import { readLimitedBody } from '../../shared/triggers/httpBody.js';
import { statusUrlOf } from '../../shared/triggers/jobRefParam.js';
import { admitRequest } from '../../shared/triggers/producerRequest.js';

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
  headers?: Record<string, string>,
): HttpResponseInit {
  context.warn(
    `job ${jobId ?? '(no id)'} refused over HTTP: ${status} ${error} (${plural(errors.length, 'error')})`,
  );
  telemetry().event(EventNames.jobRejected, {
    reason: error,
    source: 'http',
    jobId,
    errorCount: errors.length,
  });
  return { status, jsonBody: { error, errors }, ...(headers ? { headers } : {}) };
}

export async function handlePostNotification(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const { config, jobs, jobQueue, intake, quotas } = services();
  const admitted = await admitRequest(request, 'send', config);
  if ('refused' in admitted) return admitted.refused;
  const { caller } = admitted;
  const body = await readLimitedBody(request, MAX_BODY_BYTES);
  if (!body.ok) {
    return refuse(context, 413, 'PayloadTooLarge', [`body over ${MAX_BODY_BYTES} bytes`]);
  }
  // The same reading as the queue: plain or base64 JSON, with or without a BOM.
  const result = await checkJob(body.text, config);
  if (!result.ok) {
    const status = result.reason === 'TenantNotAllowed' ? 403 : 400;
    return refuse(context, status, result.reason, result.errors, result.jobId);
  }
  const job = result.job;
  if (!fitsQueueMessage(job)) {
    const errors = ['the job does not fit in a 64 KiB queue message: split the recipients'];
    return refuse(context, 400, 'JobTooLarge', errors, job.id);
  }
  // The same job again from its producer (a retry) is the same job: no quota, no second record.
  const existing = await jobs.get(job.tenantId, job.id);
  if (existing && (existing.contentHash !== contentHash(job) || !mayTouchJob(caller, existing.producer))) {
    const why = existing.contentHash !== contentHash(job) ? 'with different content' : 'by another producer';
    const errors = [`/id: job ${job.id} was already accepted ${why}; use a new ID`];
    return refuse(context, 409, 'DuplicateJobId', errors, job.id);
  }
  let stored = existing;
  if (!existing) {
    const over = await takeQuota(caller, job, quotas);
    if (over) return refuse(context, 429, 'QuotaExceeded', [over.message], job.id, over.headers);
    const recorded = await intake.record(job, {
      source: 'http',
      producer: producerOf(caller),
      origin: new URL(request.url).origin,
    });
    if (!recorded.ok) return refuse(context, 409, recorded.reason, recorded.errors, job.id);
    stored = recorded.job;
  }
  // Urgent jobs queue their deliveries here (one queue poll less); the others go through the jobs queue.
  if (!stored || !(await intake.fanOutNow(job, stored))) await enqueueJob(job, jobQueue);
  const t = telemetry();
  t.metric(MetricNames.producerJobs, 1, { producer: caller.id, outcome: 'accepted' });
  t.metric(MetricNames.producerRecipients, job.recipients.length, { producer: caller.id });
  context.log(`job ${job.id}: accepted over HTTP for ${plural(job.recipients.length, 'recipient')}`);
  const location = statusUrlOf(request, { tenantId: job.tenantId, jobId: job.id });
  return {
    status: 202,
    headers: { location },
    jsonBody: {
      jobId: job.id,
      tenantId: job.tenantId,
      statusUrl: location,
      recipients: job.recipients.length,
      priority: laneOf(job),
      // Teams and allUsers are expanded after acceptance; the status URL shows how far.
      ...(job.audience ? { audience: job.audience } : {}),
    },
  };
}

/** The job's share of its producer's quotas; over a quota: the message and Retry-After. */
async function takeQuota(
  caller: Caller,
  job: NotificationJob,
  quotas: ReturnType<typeof services>['quotas'],
) {
  const decision = await quotas.take(caller.id, job.recipients.length);
  if (decision.ok) return undefined;
  telemetry().metric(MetricNames.producerJobs, 1, { producer: caller.id, outcome: 'throttled' });
  telemetry().event(EventNames.quotaExceeded, { producer: caller.id, quota: decision.quota });
  return {
    message: quotaMessage(caller.id, decision),
    headers: { 'retry-after': String(decision.retryAfterSeconds) },
  };
}
