import type { InvocationContext } from '@azure/functions';
import { services } from '../../shared/container.js';
import { decodeJobText } from '../../shared/jobs/decode.js';
import { checkJob } from '../../shared/jobs/intake.js';
import { JOBS_QUEUE, poisonQueueOf } from '../../shared/queues.js';
import { queueMessageText, reportPoisoned } from '../../shared/triggers/queueTelemetry.js';

/**
 * Whatever lands in the poison queues (a job the host could not decode, a job or delivery that failed
 * every attempt, something another system wrote) becomes a record someone can see, a RejectedJobs row
 * or failed delivery records, and one MessagePoisoned event, which the poison alert
 * (docs/alerts/alerts.json) counts. The message is then removed: the record holds it.
 */

export async function handlePoisonedJob(item: unknown, context: InvocationContext): Promise<void> {
  const raw = queueMessageText(item, context);
  const meta = context.triggerMetadata ?? {};
  const source = poisonQueueOf(JOBS_QUEUE);
  const { intake, config, queueHost } = services();
  const decoded = decodeJobText(raw);
  let reason: string;
  let errors: string[];
  let jobId: string | undefined;
  let tenantId: string | undefined;
  if (!decoded.ok) {
    // With messageEncoding "base64" the host moves text it cannot decode here without running the job function.
    reason = 'InvalidJson';
    errors = decoded.errors;
  } else {
    const checked = await checkJob(decoded.value, config);
    jobId = checked.ok ? checked.job.id : checked.jobId;
    tenantId = checked.ok ? checked.job.tenantId : checked.tenantId;
    if (!checked.ok) {
      reason = checked.reason;
      errors = checked.errors;
    } else {
      reason = 'Poisoned';
      errors = [
        `processing failed on every attempt (maxDequeueCount ${queueHost.maxDequeueCount}); see the function's logs for the errors, then resend the job`,
      ];
    }
  }
  await intake.setAside(reason, errors, {
    source,
    rawBody: decoded.text,
    queueMessageId: typeof meta.id === 'string' ? meta.id : undefined,
    jobId,
    tenantId,
  });
  reportPoisoned(JOBS_QUEUE, reason, jobId);
  context.warn(`${source}: job ${jobId ?? '(no id)'} recorded in RejectedJobs (${reason})`);
}
