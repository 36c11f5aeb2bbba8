import { randomUUID } from 'node:crypto';
import type { AppConfig } from '../config.js';
import { checkJob } from '../jobs/intake.js';
import type { NotificationMessage } from '../jobs/contract.js';
import type { QueueSender } from '../queues.js';
import type { DeliveryRecordStore } from '../stores/deliveryRecords.js';
import {
  sendsStopped,
  type ContentChange,
  type FanOut,
  type JobContent,
  type JobContentStore,
} from '../stores/jobContent.js';
import type { JobRef, JobStore } from '../stores/jobs.js';
import { EventNames, telemetry } from '../telemetry/telemetry.js';
import type { ChangeFanOutTask } from './changeFanOut.js';
import { SETTLE_MS } from './contentCache.js';

/**
 * Update and recall requests (PATCH and DELETE /api/notifications/{id}, `npm run update|recall`):
 * record the new revision, or the first stage of a recall, on the job's content and queue one
 * fan-out task, then answer. Nothing in the request grows with the job's size: the fan-out task
 * (changeFanOut.ts) runs once every instance sees the write (SETTLE_MS, contentCache.ts), records a
 * recall's second stage and queues the change tasks a page of delivery records at a time. Asking
 * again starts the fan-out again (an interrupted one, or one that found a send still in flight).
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
      tenantId: string;
      revision: number;
      recalled: boolean;
      /** A recall's first stage: no send starts once an instance sees it. */
      recallRequestedAt?: string | undefined;
      /** When the recall took effect (nothing was sent after it), once the fan-out task recorded it. */
      recalledAt?: string | undefined;
    }
  | { ok: false; status: 400 | 404 | 409; error: string; errors: string[] };
type Refusal = Extract<ChangeRequestResult, { ok: false }>;

const refuse = (status: 400 | 404 | 409, error: string, ...errors: string[]): Refusal => ({
  ok: false,
  status,
  error,
  errors,
});

async function load(ref: JobRef, d: ChangeDeps) {
  const [job, content] = await Promise.all([
    d.jobs.get(ref.tenantId, ref.jobId),
    d.contents.get(ref.tenantId, ref.jobId),
  ]);
  if (!job) return refuse(404, 'NotFound', `no job ${ref.jobId} in tenant ${ref.tenantId}`);
  if (!content) {
    return refuse(
      409,
      'NotChangeable',
      `job ${ref.jobId} was accepted before this version kept jobs' content, so it cannot be updated or recalled; what was sent stays as it is`,
    );
  }
  return { job, content };
}

export async function updateJob(
  ref: JobRef,
  message: NotificationMessage,
  d: ChangeDeps,
): Promise<ChangeRequestResult> {
  const loaded = await load(ref, d);
  if ('ok' in loaded) return loaded;
  const { content } = loaded;
  // The new message is checked as a job would be: schema, size with the button, the card.
  const check = await checkJob(
    {
      id: ref.jobId,
      tenantId: content.tenantId,
      recipients: [{ userId: 'update-check' }],
      message,
      ...(content.acknowledgeTitle ? { acknowledge: { title: content.acknowledgeTitle } } : {}),
    },
    d.config,
  );
  if (!check.ok) return refuse(400, check.reason, ...check.errors);
  const next = check.job.message;
  // The same content again (a retried request) is the same revision: only the fan-out starts again.
  // revise() refuses once a recall is asked for.
  const same = (c: JobContent) => JSON.stringify(c.message) === JSON.stringify(next);
  const written = await writeContent(ref, content, d, (c) =>
    same(c) && !sendsStopped(c) ? undefined : d.contents.revise(c, next),
  );
  if ('ok' in written) return written;
  if (written.changed) {
    telemetry().event(
      EventNames.jobUpdated,
      { jobId: ref.jobId, tenantId: written.content.tenantId },
      { revision: written.content.revision },
    );
  }
  // Sends still acting on the previous revision start within SETTLE_MS; the fan-out task runs after
  // that, so their copies are sent or `sending` by then and get their change tasks.
  await startFanOut('update', ref, d);
  return {
    ok: true,
    jobId: ref.jobId,
    tenantId: ref.tenantId,
    revision: written.content.revision,
    recalled: false,
  };
}

/**
 * A recall in two stages. `recallRequestedAt` (recorded here) stops every send that reads the
 * content from then on; once no instance can act on content read before it (SETTLE_MS), the fan-out
 * task records `recalledAt`: nothing is sent after that moment. It then deletes every copy sent,
 * those sent in between too, and cancels the rest.
 */
export async function recallJob(ref: JobRef, d: ChangeDeps): Promise<ChangeRequestResult> {
  const loaded = await load(ref, d);
  if ('ok' in loaded) return loaded;
  const requested = await writeContent(ref, loaded.content, d, (c) =>
    sendsStopped(c) ? undefined : d.contents.recall(c, 'requested'),
  );
  if ('ok' in requested) return requested;
  const content = requested.content;
  await startFanOut('recall', ref, d);
  return {
    ok: true,
    jobId: ref.jobId,
    tenantId: ref.tenantId,
    revision: content.revision,
    recalled: true,
    recallRequestedAt: content.recallRequestedAt,
    recalledAt: content.recalledAt,
  };
}

/** A new fan-out replaces any other of the job's, and its task runs after the settle time. */
async function startFanOut(op: FanOut['op'], ref: JobRef, d: ChangeDeps): Promise<void> {
  const state: FanOut = {
    id: randomUUID(),
    op,
    requestedAt: new Date().toISOString(),
    queued: 0,
    done: false,
  };
  await d.contents.saveFanOut(ref.tenantId, ref.jobId, state);
  const { tenantId, jobId } = ref;
  const task: ChangeFanOutTask = { v: 1, kind: 'changeFanOut', op, tenantId, jobId, fanOutId: state.id };
  await d.deliveryQueue.send(task, settleMsOf(d));
}

export const settleMsOf = (d: Pick<ChangeDeps, 'settleMs'>) => d.settleMs ?? SETTLE_MS;

/**
 * Writes a change to the content, reading it again when another writer got there first. `write`
 * answers undefined when there is nothing (left) to write.
 */
export async function writeContent(
  ref: JobRef,
  first: JobContent,
  d: Pick<ChangeDeps, 'contents'>,
  write: (current: JobContent) => Promise<ContentChange> | undefined,
): Promise<{ content: JobContent; changed: boolean } | Refusal> {
  let content = first;
  for (let round = 0; round <= 5; round++) {
    const change = write(content);
    if (!change) return { content, changed: false };
    const result = await change;
    if (result.ok) return { content: result.content, changed: true };
    if (result.reason === 'Recalled') break;
    const again = await d.contents.get(ref.tenantId, ref.jobId);
    if (!again) break;
    content = again;
  }
  if (sendsStopped(content))
    return refuse(409, 'Recalled', `job ${ref.jobId} was recalled; it cannot be updated`);
  return refuse(409, 'Conflict', 'the job changed meanwhile; try again');
}
