import pMap from 'p-map';
import type { AppConfig } from '../config.js';
import { checkJob } from '../jobs/intake.js';
import type { NotificationMessage } from '../jobs/contract.js';
import type { QueueSender } from '../queues.js';
import type { DeliveryRecordStore } from '../stores/deliveryRecords.js';
import {
  sendsStopped,
  type ContentChange,
  type JobContent,
  type JobContentStore,
} from '../stores/jobContent.js';
import type { JobRecord, JobStore } from '../stores/jobs.js';
import { EventNames, telemetry } from '../telemetry/telemetry.js';
import type { ChangeTask } from './changeTask.js';
import { SETTLE_MS } from './contentCache.js';

/**
 * Update and recall requests (PATCH and DELETE /api/notifications/{id}, `npm run update|recall`):
 * record the new revision or the recall on the job's content, wait until every instance sees it
 * (SETTLE_MS, contentCache.ts), then put one change task per recipient who may hold a copy on the
 * deliveries queue. Deliveries not sent yet need no task for an update
 * (they read the latest content before sending); for a recall every recipient gets one, so each
 * delivery not yet sent is recorded `cancelled` at once. Asking again resumes an interrupted fan-out.
 */

export interface ChangeDeps {
  config: Pick<AppConfig, 'allowedTenantIds'>;
  jobs: JobStore;
  contents: JobContentStore;
  deliveryRecords: DeliveryRecordStore;
  deliveryQueue: QueueSender;
  /** Tests only: how long to let every instance see a content write (default SETTLE_MS). */
  settleMs?: number;
}

export type ChangeRequestResult =
  | {
      ok: true;
      jobId: string;
      revision: number;
      recalled: boolean;
      /** When the recall took effect: nothing was sent after it. */
      recalledAt?: string | undefined;
      tasks: number;
    }
  | { ok: false; status: 400 | 404 | 409; error: string; errors: string[] };
type Refusal = Extract<ChangeRequestResult, { ok: false }>;

const refuse = (status: 400 | 404 | 409, error: string, ...errors: string[]): Refusal => ({
  ok: false,
  status,
  error,
  errors,
});

async function load(jobId: string, d: ChangeDeps) {
  const [job, content] = await Promise.all([d.jobs.get(jobId), d.contents.get(jobId)]);
  if (!job) return refuse(404, 'NotFound', `no job ${jobId}`);
  if (!content) {
    return refuse(
      409,
      'NotChangeable',
      `job ${jobId} was accepted before this version kept jobs' content, so it cannot be updated or recalled; what was sent stays as it is`,
    );
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
  const { content } = loaded;
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
  const next = check.job.message;
  // The same content again (a retried request) is the same revision: only the fan-out is resumed.
  // revise() refuses once a recall is asked for.
  const same = (c: JobContent) => JSON.stringify(c.message) === JSON.stringify(next);
  const written = await writeContent(jobId, content, d, (c) =>
    same(c) && !sendsStopped(c) ? undefined : d.contents.revise(c, next),
  );
  if ('ok' in written) return written;
  if (written.changed) {
    telemetry().event(
      EventNames.jobUpdated,
      { jobId, tenantId: written.content.tenantId },
      { revision: written.content.revision },
    );
  }
  // Sends still acting on the previous revision start within SETTLE_MS; their copies are sent by
  // then, or `sending`, so the fan-out below finds them and replaces them.
  await settle(d);
  const tasks = await fanOut('update', loaded.job, written.content, d);
  return { ok: true, jobId, revision: written.content.revision, recalled: false, tasks };
}

/**
 * A recall in two stages. `recallRequestedAt` stops every send that reads the content from then on;
 * once no instance can act on content read before it (SETTLE_MS), `recalledAt` is recorded: nothing
 * is sent after that moment. The fan-out then deletes every copy sent, those sent in between too.
 */
export async function recallJob(jobId: string, d: ChangeDeps): Promise<ChangeRequestResult> {
  const loaded = await load(jobId, d);
  if ('ok' in loaded) return loaded;
  let content = loaded.content;
  if (!content.recalledAt) {
    const requested = await writeContent(jobId, content, d, (c) =>
      sendsStopped(c) ? undefined : d.contents.recall(c, 'requested'),
    );
    if ('ok' in requested) return requested;
    await settle(d);
    const effective = await writeContent(jobId, requested.content, d, (c) =>
      c.recalledAt ? undefined : d.contents.recall(c, 'effective'),
    );
    if ('ok' in effective) return effective;
    content = effective.content;
    if (effective.changed) telemetry().event(EventNames.jobRecalled, { jobId, tenantId: content.tenantId });
  }
  const tasks = await fanOut('recall', loaded.job, content, d);
  return {
    ok: true,
    jobId,
    revision: content.revision,
    recalled: true,
    recalledAt: content.recalledAt,
    tasks,
  };
}

const settle = (d: ChangeDeps) => new Promise((resolve) => setTimeout(resolve, d.settleMs ?? SETTLE_MS));

/**
 * Writes a change to the content, reading it again when another writer got there first. `write`
 * answers undefined when there is nothing (left) to write.
 */
async function writeContent(
  jobId: string,
  first: JobContent,
  d: ChangeDeps,
  write: (current: JobContent) => Promise<ContentChange> | undefined,
): Promise<{ content: JobContent; changed: boolean } | Refusal> {
  let content = first;
  for (let round = 0; round <= 5; round++) {
    const change = write(content);
    if (!change) return { content, changed: false };
    const result = await change;
    if (result.ok) return { content: result.content, changed: true };
    if (result.reason === 'Recalled') break;
    const again = await d.contents.get(jobId);
    if (!again) break;
    content = again;
  }
  if (sendsStopped(content))
    return refuse(409, 'Recalled', `job ${jobId} was recalled; it cannot be updated`);
  return refuse(409, 'Conflict', 'the job changed meanwhile; try again');
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
