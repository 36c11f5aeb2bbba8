import pMap from 'p-map';
import type { DeliveryRecord } from '../stores/deliveryRecords.js';
import { sendsStopped, type FanOut, type JobContent } from '../stores/jobContent.js';
import type { JobRecord, JobRef } from '../stores/jobs.js';
import { EventNames, telemetry } from '../telemetry/telemetry.js';
import type { ChangeTask } from './changeTask.js';
import { settleMsOf, writeContent, type ChangeDeps } from './requestChange.js';

/**
 * The fan-out of an update or a recall, as a queued task on the deliveries queue (`kind:
 * "changeFanOut"`), started by the request (requestChange.ts) and run once the settle time is over:
 * it records a recall's second stage, then reads the job's delivery records a page at a time and
 * queues one change task per copy to change, saving a checkpoint on the fan-out row after each page.
 * After a time budget the rest goes back to the queue as a new message; a redelivered task goes on
 * from the checkpoint (a page queued twice is absorbed by each change task's claim).
 */

export interface ChangeFanOutTask extends JobRef {
  v: 1;
  kind: 'changeFanOut';
  op: 'update' | 'recall';
  /** The fan-out this task belongs to (FanOut.id): a later request's replaces it. */
  fanOutId: string;
}

export function isChangeFanOutTask(value: unknown): value is ChangeFanOutTask {
  const t = value as Partial<ChangeFanOutTask> | undefined;
  return (
    !!t &&
    typeof t === 'object' &&
    t.v === 1 &&
    t.kind === 'changeFanOut' &&
    (t.op === 'update' || t.op === 'recall') &&
    typeof t.tenantId === 'string' &&
    typeof t.jobId === 'string' &&
    typeof t.fanOutId === 'string'
  );
}

export interface FanOutOptions {
  /** Delivery records read per page (one Table page, at most 1,000). */
  pageSize?: number;
  /** How long one invocation queues pages before handing the rest back (well below functionTimeout). */
  budgetMs?: number;
  concurrency?: number;
}

export type FanOutResult =
  | { kind: 'done'; reason: string; queued: number }
  /** Send the task again after `delayMs` (0: the rest of the pages, as a new message). */
  | { kind: 'again'; delayMs: number; reason: string };

/** The copies one page of records holds that a change must reach (pure). */
export function changeTargets(op: FanOut['op'], records: DeliveryRecord[], revision: number): string[] {
  return records
    .filter((r) => {
      if (r.status === 'pending') return op === 'recall';
      if (r.status === 'sent') return op === 'recall' || (r.revision ?? 0) < revision;
      return r.status === 'sending';
    })
    .map((r) => r.recipient);
}

export async function runChangeFanOut(
  task: ChangeFanOutTask,
  d: ChangeDeps,
  o: FanOutOptions = {},
): Promise<FanOutResult> {
  const { tenantId, jobId } = task;
  const state = await d.contents.fanOut(tenantId, jobId);
  if (state?.id !== task.fanOutId) return { kind: 'done', reason: 'Superseded', queued: 0 };
  if (state.done) return { kind: 'done', reason: 'AlreadyDone', queued: state.queued };
  const [job, first] = await Promise.all([d.jobs.get(tenantId, jobId), d.contents.get(tenantId, jobId)]);
  if (!job || !first) return { kind: 'done', reason: 'UnknownJob', queued: 0 };
  // Every instance must see the write first: a recall's first stage, or the update's revision.
  const since = task.op === 'recall' ? (first.recallRequestedAt ?? state.requestedAt) : state.requestedAt;
  const wait = Date.parse(since) + settleMsOf(d) - Date.now();
  if (wait > 0) return { kind: 'again', delayMs: wait, reason: 'Settling' };
  let content = first;
  if (task.op === 'recall' && !content.recalledAt) {
    const effective = await writeContent(task, content, d, (c) =>
      c.recalledAt ? undefined : d.contents.recall(c, 'effective'),
    );
    if ('ok' in effective) throw new Error(`recall of job ${jobId}: ${effective.error}`);
    content = effective.content;
    if (effective.changed) telemetry().event(EventNames.jobRecalled, { jobId, tenantId });
  }
  if (task.op === 'update' && sendsStopped(content)) {
    // A recall came after this update: its own fan-out reaches every copy.
    await d.contents.saveFanOut(tenantId, jobId, { ...state, done: true, failed: 'Recalled' }, state.etag);
    return { kind: 'done', reason: 'Recalled', queued: state.queued };
  }
  return queuePages(task, state, job, content, d, o);
}

async function queuePages(
  task: ChangeFanOutTask,
  first: FanOut,
  job: JobRecord,
  content: JobContent,
  d: ChangeDeps,
  o: FanOutOptions,
): Promise<FanOutResult> {
  const { tenantId, jobId } = task;
  const started = Date.now();
  let state = first;
  let etag = first.etag;
  while (!state.done) {
    const page = await d.deliveryRecords.pageForJob(tenantId, jobId, {
      token: state.token,
      size: o.pageSize ?? 1000,
    });
    const targets = changeTargets(task.op, page.records, content.revision);
    // A recall also cancels the named recipients not tried yet (no record), on the first page.
    if (task.op === 'recall' && !state.token) {
      targets.push(...(await untried(job, page.records, !!page.token, d)));
    }
    const tasks = targets.map((recipient): ChangeTask => ({
      v: 1,
      kind: 'change',
      op: task.op,
      jobId,
      tenantId,
      recipient,
      revision: content.revision,
      reschedules: 0,
      ...(job.audience ? { counted: true as const } : {}),
    }));
    await pMap(tasks, (t) => d.deliveryQueue.send(t), { concurrency: o.concurrency ?? 32 });
    state = { ...state, token: page.token, queued: state.queued + tasks.length, done: !page.token };
    etag = await d.contents.saveFanOut(tenantId, jobId, state, etag);
    // Another task of this fan-out moved the checkpoint (a redelivered copy): it goes on, not this one.
    if (etag === undefined) return { kind: 'done', reason: 'TakenOver', queued: state.queued };
    if (!state.done && Date.now() - started >= (o.budgetMs ?? 30_000)) {
      return { kind: 'again', delayMs: 0, reason: 'MorePages' };
    }
  }
  return { kind: 'done', reason: 'Done', queued: state.queued };
}

/** The job's named recipients with no record: on this page, or (more pages to come) at all. */
async function untried(
  job: JobRecord,
  page: DeliveryRecord[],
  morePages: boolean,
  d: ChangeDeps,
): Promise<string[]> {
  const seen = new Set(page.map((r) => r.recipient));
  const rest = job.recipients.filter((r) => !seen.has(r));
  if (!morePages) return rest;
  const found = await pMap(rest, (r) => d.deliveryRecords.get(job.tenantId, job.jobId, r), {
    concurrency: 16,
  });
  return rest.filter((_, i) => !found[i]);
}
