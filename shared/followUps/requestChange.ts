import pMap from 'p-map';
import type { AppConfig } from '../config.js';
import { checkJob } from '../jobs/intake.js';
import type { NotificationMessage } from '../jobs/contract.js';
import type { QueueSender } from '../queues.js';
import type { DeliveryRecordStore } from '../stores/deliveryRecords.js';
import type { JobContent, JobContentStore } from '../stores/jobContent.js';
import type { JobRecord, JobStore } from '../stores/jobs.js';
import { EventNames, telemetry } from '../telemetry/telemetry.js';
import type { ChangeTask } from './changeTask.js';
import { forgetContent } from './sendHooks.js';

/**
 * Update and recall requests (PATCH and DELETE /api/notifications/{id}, `npm run notify -- update|recall`):
 * record the new revision or the recall on the job's content, then put one change task per recipient
 * who may hold a copy on the deliveries queue. Deliveries not sent yet need no task for an update
 * (they read the latest content before sending); for a recall every recipient gets one, so each
 * delivery not yet sent is recorded `cancelled` at once. Asking again resumes an interrupted fan-out.
 */

export interface ChangeDeps {
  config: Pick<AppConfig, 'allowedTenantIds'>;
  jobs: JobStore;
  contents: JobContentStore;
  deliveryRecords: DeliveryRecordStore;
  deliveryQueue: QueueSender;
}

export type ChangeRequestResult =
  | { ok: true; jobId: string; revision: number; recalled: boolean; tasks: number }
  | { ok: false; status: 400 | 404 | 409; error: string; errors: string[] };

const refuse = (status: 400 | 404 | 409, error: string, ...errors: string[]): ChangeRequestResult => ({
  ok: false,
  status,
  error,
  errors,
});

async function load(jobId: string, d: ChangeDeps) {
  const [job, content] = await Promise.all([d.jobs.get(jobId), d.contents.get(jobId)]);
  if (!job) return refuse(404, 'NotFound', `no job ${jobId}`);
  if (!content) {
    return refuse(409, 'NotChangeable', `job ${jobId} was accepted before updates and recalls were recorded`);
  }
  return { job, content };
}

export async function updateJob(
  jobId: string,
  message: NotificationMessage,
  d: ChangeDeps,
): Promise<ChangeRequestResult> {
  const loaded = await load(jobId, d);
  if ('ok' in loaded) return loaded;
  let { content } = loaded;
  // The new message is checked as a job would be: schema, size with the button, the card.
  const check = await checkJob(
    {
      id: jobId,
      tenantId: content.tenantId,
      recipients: [{ userId: 'update-check' }],
      message,
      ...(content.acknowledgeTitle ? { acknowledge: { title: content.acknowledgeTitle } } : {}),
    },
    d.config,
  );
  if (!check.ok) return refuse(400, check.reason, ...check.errors);
  for (let round = 0; ; round++) {
    if (content.recalledAt) return refuse(409, 'Recalled', `job ${jobId} was recalled; it cannot be updated`);
    // The same content again (a retried request) is the same revision: only the fan-out is resumed.
    if (JSON.stringify(content.message) === JSON.stringify(check.job.message)) break;
    const changed = await d.contents.revise(content, check.job.message);
    if (changed.ok) {
      content = changed.content;
      forgetContent(jobId);
      telemetry().event(
        EventNames.jobUpdated,
        { jobId, tenantId: content.tenantId },
        { revision: content.revision },
      );
      break;
    }
    const again = await d.contents.get(jobId);
    if (!again || round > 5) return refuse(409, 'Conflict', 'the job changed meanwhile; try again');
    content = again;
  }
  const tasks = await fanOut('update', loaded.job, content, d);
  return { ok: true, jobId, revision: content.revision, recalled: false, tasks };
}

export async function recallJob(jobId: string, d: ChangeDeps): Promise<ChangeRequestResult> {
  const loaded = await load(jobId, d);
  if ('ok' in loaded) return loaded;
  let content = loaded.content;
  for (let round = 0; !content.recalledAt; round++) {
    const recalled = await d.contents.recall(content);
    if (recalled.ok) {
      content = recalled.content;
      forgetContent(jobId);
      telemetry().event(EventNames.jobRecalled, { jobId, tenantId: content.tenantId });
      break;
    }
    const again = await d.contents.get(jobId);
    if (!again || round > 5) return refuse(409, 'Conflict', 'the job changed meanwhile; try again');
    content = again;
  }
  const tasks = await fanOut('recall', loaded.job, content, d);
  return { ok: true, jobId, revision: content.revision, recalled: true, tasks };
}

async function fanOut(
  op: 'update' | 'recall',
  job: Pick<JobRecord, 'recipients' | 'audience'>,
  content: JobContent,
  d: ChangeDeps,
): Promise<number> {
  const records = new Map(
    (await d.deliveryRecords.listForJob(content.tenantId, content.jobId)).map((r) => [r.recipient, r]),
  );
  const candidates = new Set([...(op === 'recall' ? job.recipients : []), ...records.keys()]);
  const targets = [...candidates].filter((recipient) => {
    const r = records.get(recipient);
    if (!r || r.status === 'pending') return op === 'recall';
    if (r.status === 'sent') return op === 'recall' || (r.revision ?? 0) < content.revision;
    return r.status === 'sending';
  });
  const tasks: ChangeTask[] = targets.map((recipient) => ({
    v: 1,
    kind: 'change',
    op,
    jobId: content.jobId,
    tenantId: content.tenantId,
    recipient,
    revision: content.revision,
    reschedules: 0,
    ...(job.audience ? { counted: true as const } : {}),
  }));
  await pMap(tasks, (task) => d.deliveryQueue.send(task), { concurrency: 16 });
  return tasks.length;
}
