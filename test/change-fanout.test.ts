import { beforeEach, describe, expect, it } from 'vitest';
import { runChangeFanOut, type ChangeFanOutTask } from '../shared/followUps/changeFanOut.js';
import type { ChangeTask } from '../shared/followUps/changeTask.js';
import { recallJob, updateJob } from '../shared/followUps/requestChange.js';
import { recordWithoutClaim } from '../shared/stores/deliveryRecords.js';
import { MemoryJobContentStore } from './support/memoryFollowUps.js';
import {
  MemoryConversationStore,
  MemoryDeliveryRecordStore,
  MemoryJobStore,
  MemoryQueue,
} from './support/memoryStores.js';

/**
 * Issue 22: an update or a recall records the change and queues one fan-out task; the task, not the
 * request, waits out the settle time and queues the change tasks a page at a time from a checkpoint.
 * On the in-memory twins (the HTTP side against Azurite is in follow-ups-queued.test.ts).
 */

const TENANT = 't1';
const JOB = 'job-1';
const REF = { tenantId: TENANT, jobId: JOB };
const SETTLE = 100;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
// A timer may fire a millisecond before the clock says its time has passed.
const afterSettle = () => sleep(SETTLE + 20);

let records: MemoryDeliveryRecordStore;
let contents: MemoryJobContentStore;
let jobs: MemoryJobStore;
let queue: MemoryQueue;
const deps = () => ({
  config: { allowedTenantIds: new Set([TENANT]) },
  jobs,
  contents,
  deliveryRecords: records,
  deliveryQueue: queue,
  settleMs: SETTLE,
});
const stored = async () => (await contents.get(TENANT, JOB))!;
const fanOutTasks = () =>
  queue.messages.filter((m) => (m.message as { kind: string }).kind === 'changeFanOut');
const changeTargets = () =>
  queue.messages
    .map((m) => m.message as ChangeTask)
    .filter((t) => t.kind === 'change')
    .map((t) => t.recipient)
    .sort();
const sent = (recipient: string, revision = 0) =>
  recordWithoutClaim(records, TENANT, JOB, recipient, {
    status: 'sent',
    userId: recipient.slice('userId:'.length),
    conversationId: `a:${recipient}`,
    activityId: String(1_700_000_000_000 + revision),
    revision,
  });

async function setup(recipients: string[]) {
  records = new MemoryDeliveryRecordStore(new MemoryConversationStore());
  contents = new MemoryJobContentStore();
  jobs = new MemoryJobStore();
  queue = new MemoryQueue();
  await jobs.createOrGet({
    ...REF,
    recipients,
    contentHash: 'h',
    acceptedAt: new Date().toISOString(),
    source: 'test',
  });
  await contents.ensure({ ...REF, message: { text: 'v1' } });
}

describe('a recall', () => {
  const recipients = ['userId:29:a', 'userId:29:b', 'userId:29:c'];
  beforeEach(async () => {
    await setup(recipients);
    await sent('userId:29:a');
  });

  it('is answered once sends are stopped; the queued task takes effect after the settle time and fans out', async () => {
    const answer = await recallJob(REF, deps());
    const { recallRequestedAt } = await stored();
    expect(answer).toMatchObject({ ok: true, recalled: true, recallRequestedAt });
    expect((await stored()).recalledAt).toBeUndefined();
    // What the request left: one fan-out task, due after the settle time, and no change task yet.
    expect(queue.messages).toHaveLength(1);
    expect(fanOutTasks()[0]).toMatchObject({
      message: { kind: 'changeFanOut', op: 'recall' },
      delayMs: SETTLE,
    });
    expect(await updateJob(REF, { text: 'v2' }, deps())).toMatchObject({ status: 409, error: 'Recalled' });

    const task = fanOutTasks()[0]!.message as ChangeFanOutTask;
    // Delivered early, the task waits out the rest of the settle time.
    expect(await runChangeFanOut(task, deps())).toMatchObject({ kind: 'again', reason: 'Settling' });
    await afterSettle();
    expect(await runChangeFanOut(task, deps())).toMatchObject({ kind: 'done', reason: 'Done', queued: 3 });
    const { recalledAt } = await stored();
    expect(Date.parse(recalledAt!) - Date.parse(recallRequestedAt!)).toBeGreaterThanOrEqual(SETTLE);
    // The sent copy is deleted, the others cancelled: each recipient gets one change task.
    expect(changeTargets()).toEqual(recipients);
    // A redelivered copy of the finished task queues nothing more.
    expect(await runChangeFanOut(task, deps())).toMatchObject({ reason: 'AlreadyDone' });
    expect(changeTargets()).toEqual(recipients);
  });

  it('asked again replaces the fan-out: a task of the earlier request stops', async () => {
    await recallJob(REF, deps());
    const first = fanOutTasks()[0]!.message as ChangeFanOutTask;
    await recallJob(REF, deps());
    const second = fanOutTasks()[1]!.message as ChangeFanOutTask;
    await afterSettle();
    expect(await runChangeFanOut(first, deps())).toMatchObject({ kind: 'done', reason: 'Superseded' });
    expect(await runChangeFanOut(second, deps())).toMatchObject({ kind: 'done', queued: 3 });
  });
});

describe('an update', () => {
  it('fans out after the settle, so a copy sent meanwhile with the old revision is replaced', async () => {
    await setup(['userId:29:a', 'userId:29:b', 'userId:29:c']);
    await sent('userId:29:a');
    expect(await updateJob(REF, { text: 'v2' }, deps())).toMatchObject({ ok: true, revision: 1 });
    expect(changeTargets()).toEqual([]);
    // Another instance, still acting on revision 0 read just before, sends to 29:b meanwhile.
    await sent('userId:29:b');
    await afterSettle();
    const task = fanOutTasks()[0]!.message as ChangeFanOutTask;
    expect(await runChangeFanOut(task, deps())).toMatchObject({ kind: 'done', queued: 2 });
    expect(changeTargets()).toEqual(['userId:29:a', 'userId:29:b']);
  });

  it('goes out a page at a time from its checkpoint, each copy once', async () => {
    const recipients = Array.from({ length: 25 }, (_, i) => `userId:29:u${String(i).padStart(2, '0')}`);
    await setup(recipients);
    for (const r of recipients) await sent(r);
    await updateJob(REF, { text: 'v2' }, deps());
    await afterSettle();
    const task = fanOutTasks()[0]!.message as ChangeFanOutTask;
    const small = { pageSize: 10, budgetMs: 0 };
    expect(await runChangeFanOut(task, deps(), small)).toMatchObject({ kind: 'again', reason: 'MorePages' });
    expect(changeTargets()).toHaveLength(10);
    expect(await runChangeFanOut(task, deps(), small)).toMatchObject({ kind: 'again' });
    expect(await runChangeFanOut(task, deps(), small)).toMatchObject({ kind: 'done', queued: 25 });
    expect(changeTargets()).toEqual(recipients);
  });
});
