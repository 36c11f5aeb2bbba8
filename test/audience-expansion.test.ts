import { describe, expect, it } from 'vitest';
import { audienceOf, rosterIsStale, segmentsOf } from '../shared/jobs/audience.js';
import { validateJob, toWireJob, contentHash, type NotificationJob } from '../shared/jobs/contract.js';
import { AudienceExpander, ExpansionTakenOver } from '../shared/jobs/expand.js';
import { JobIntake } from '../shared/jobs/intake.js';
import type { DeliveryTask } from '../shared/delivery/task.js';
import { batchesOf, isDeliveryBatch, tasksOf } from '../shared/delivery/batch.js';
import { MAX_QUEUE_MESSAGE_BYTES } from '../shared/jobs/contract.js';
import { encodeMessage } from '../shared/queues.js';
import type { UserRecord } from '../shared/stores/conversations.js';
import { MemoryAudienceStore } from './support/memoryAudiences.js';
import {
  MemoryConversationStore,
  MemoryJobStore,
  MemoryQueue,
  MemoryRejectedJobStore,
} from './support/memoryStores.js';

/** Issue 15: the audience decisions and the streaming expansion, on in-memory twins (no Azurite). */

const TENANT = 'contoso';

describe('audience forms in the contract', () => {
  it('accepts teams and allUsers beside users, and keeps them apart from the named users', () => {
    const result = validateJob({
      tenantId: TENANT,
      recipients: [{ teamId: 'T1' }, { allUsers: true }, { upn: 'A@contoso.com' }, { teamId: 'T1' }],
      message: { text: 'x' },
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.job.recipients).toEqual([{ kind: 'upn', value: 'a@contoso.com' }]);
    expect(result.job.audience).toEqual({ teams: ['T1'], allUsers: true });
    // The wire form names the same audience again.
    const again = validateJob(toWireJob(result.job));
    expect(again.ok && again.job.audience).toEqual({ teams: ['T1'], allUsers: true });
  });

  it('refuses allUsers other than true, and an empty team ID, with what is wrong', () => {
    const bad = validateJob({ tenantId: TENANT, recipients: [{ allUsers: false }], message: { text: 'x' } });
    expect(bad.ok).toBe(false);
    const blank = validateJob({ tenantId: TENANT, recipients: [{ teamId: '' }], message: { text: 'x' } });
    expect(blank.ok).toBe(false);
  });

  it('gives an audience job a different content hash than the same job without it, and leaves user jobs as they were', () => {
    const job: NotificationJob = { id: 'j', tenantId: TENANT, recipients: [], message: { text: 'x' } };
    expect(contentHash({ ...job, audience: { teams: ['a'], allUsers: false } })).not.toBe(contentHash(job));
    expect(contentHash(job)).toBe(contentHash({ ...job, audience: undefined }));
  });

  it('reads allUsers alone, without the teams, after the named users', () => {
    expect(segmentsOf({ teams: ['a', 'b'], allUsers: false }).map((s) => s.kind)).toEqual([
      'users',
      'team',
      'team',
    ]);
    expect(segmentsOf({ teams: ['a'], allUsers: true }).map((s) => s.kind)).toEqual(['users', 'allUsers']);
    expect(audienceOf([{ upn: 'a@b.c' }])).toBeUndefined();
  });

  it('calls a roster stale when never read or older than the limit', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    expect(rosterIsStale(undefined, 60_000, now)).toBe(true);
    expect(rosterIsStale('2026-01-01T11:58:00Z', 60_000, now)).toBe(true);
    expect(rosterIsStale('2026-01-01T11:59:30Z', 60_000, now)).toBe(false);
  });
});

function setup(userCount: number) {
  const conversations = new MemoryConversationStore();
  for (let i = 0; i < userCount; i++) {
    conversations.put({
      tenantId: TENANT,
      userId: `u${String(i).padStart(4, '0')}`,
      serviceUrl: 'https://smba.trafficmanager.net/teams/',
      sources: ['personal'],
      optedOut: false,
      capCount: 0,
      updatedAt: '',
      ...(i % 10 === 9 ? { inactiveReason: 'Uninstalled' } : {}),
    });
  }
  const jobs = new MemoryJobStore();
  const queue = new MemoryQueue();
  const expander = new AudienceExpander({
    jobs,
    conversations,
    audiences: new MemoryAudienceStore(conversations),
    deliveryQueue: queue,
    pageSize: 7,
    fanOutConcurrency: 4,
    rosterMaxAgeMs: 60_000,
  });
  return { conversations, jobs, queue, expander };
}

async function start(jobs: MemoryJobStore, job: NotificationJob) {
  return (
    await jobs.createOrGet({
      jobId: job.id,
      tenantId: TENANT,
      recipients: [],
      contentHash: 'h',
      acceptedAt: '',
      source: 'test',
      audience: job.audience,
    })
  ).job;
}

describe('streaming expansion', () => {
  const job = {
    id: 'all-1',
    tenantId: TENANT,
    recipients: [{ kind: 'userId' as const, value: 'u0003' }],
    audience: { teams: [], allUsers: true },
    message: { text: 'x' },
  };

  it('queues every active user once, a page at a time, with a checkpoint after each page', async () => {
    const { jobs, queue, expander } = setup(50);
    const sent: string[] = [];
    const state = await expander.expand(job, await start(jobs, job), async (batch) => {
      sent.push(...batch.map((b) => b.recipient));
      await queue.send(batch.map((b) => ({ recipient: b.recipient }) as Partial<DeliveryTask>));
    });
    expect(state).toMatchObject({ done: true, queued: 45 });
    expect(new Set(sent).size).toBe(45);
    expect(sent.filter((r) => r === 'userId:u0003')).toHaveLength(1);
    expect(sent).not.toContain('userId:u0009');
  });

  it('after a crash continues from the checkpoint: only the page in flight may be queued again', async () => {
    const { jobs, expander } = setup(50);
    const sent: string[] = [];
    let calls = 0;
    const crash = new Error('host killed');
    await expect(
      expander.expand(job, await start(jobs, job), async (batch) => {
        if (++calls === 4) throw crash;
        sent.push(...batch.map((b) => b.recipient));
      }),
    ).rejects.toBe(crash);
    const checkpoint = (await jobs.get(TENANT, job.id))!;
    expect(checkpoint.expansion).toMatchObject({ done: false });
    const state = await expander.expand(job, checkpoint, async (batch) => {
      sent.push(...batch.map((b) => b.recipient));
    });
    expect(state).toMatchObject({ done: true, queued: 45 });
    expect(new Set(sent).size).toBe(45);
    // At most one page (7) plus the named user went out twice; the delivery claim absorbs them.
    expect(sent.length - 45).toBeLessThanOrEqual(8);
  });

  it('stops when another worker moved the checkpoint on', async () => {
    const { jobs, expander } = setup(30);
    const record = await start(jobs, job);
    await jobs.saveExpansion(
      TENANT,
      job.id,
      { segment: 1, queued: 1, estimate: 27, done: false },
      record.etag!,
    );
    await expect(expander.expand(job, record, async () => {})).rejects.toBeInstanceOf(ExpansionTakenOver);
  });

  it('a member of two teams is queued once, for the first team', async () => {
    const { conversations, jobs, expander } = setup(20);
    for (const teamId of ['A', 'B']) {
      await conversations.saveTeam({
        tenantId: TENANT,
        teamId,
        serviceUrl: 'x',
        installed: true,
        memberCount: 3,
        rosterSyncedAt: new Date().toISOString(),
      });
    }
    await conversations.addTeamMembers(TENANT, 'A', ['u0001', 'u0002', 'u0005']);
    await conversations.addTeamMembers(TENANT, 'B', ['u0002', 'u0006']);
    const teamJob = {
      ...job,
      id: 'teams-1',
      recipients: [],
      audience: { teams: ['A', 'B'], allUsers: false },
    };
    const sent: string[] = [];
    const state = await expander.expand(teamJob, await start(jobs, teamJob), async (batch) => {
      sent.push(...batch.map((b) => b.recipient));
    });
    expect(sent.sort()).toEqual(['userId:u0001', 'userId:u0002', 'userId:u0005', 'userId:u0006']);
    expect(state).toMatchObject({ queued: 4, estimate: 6, done: true });
  });
});

describe('delivery batches', () => {
  const shared = {
    v: 1 as const,
    jobId: 'j',
    tenantId: TENANT,
    message: { text: 'x'.repeat(28_000) },
    acceptedAt: '2026-11-25T00:00:00Z',
    reschedules: 0,
    counted: true as const,
  };
  // A long message and long display names: 16 of them pass a queue message's 64 KiB.
  const recipients = Array.from({ length: 40 }, (_, i) => ({
    recipient: `userId:u${i}`,
    user: { userId: `u${i}`, name: 'n'.repeat(2000) } as UserRecord,
  }));

  it('packs at most 16 recipients to a message, and fewer when a message would pass 64 KiB', () => {
    const small = batchesOf({ ...shared, message: { text: 'hi' } }, recipients);
    expect(small.map((b) => b.recipients.length)).toEqual([16, 16, 8]);
    const big = batchesOf(shared, recipients);
    for (const b of big) expect(encodeMessage(b).length).toBeLessThanOrEqual(MAX_QUEUE_MESSAGE_BYTES);
    expect(big.length).toBeGreaterThan(3);
    expect(big.flatMap(tasksOf).map((t) => t.recipient)).toEqual(recipients.map((r) => r.recipient));
  });

  it('gives back one task per recipient, each with the job and its own user record', () => {
    const [batch] = batchesOf(shared, [{ recipient: 'userId:a', user: { userId: 'a' } as UserRecord }]);
    expect(isDeliveryBatch(JSON.parse(JSON.stringify(batch)))).toBe(true);
    expect(isDeliveryBatch({ ...shared, recipient: 'userId:a' })).toBe(false);
    expect(tasksOf(batch!)).toEqual([{ ...shared, recipient: 'userId:a', user: { userId: 'a' } }]);
  });

  it('queues a named job 16 recipients to a message, each once with its own record, and not counted', async () => {
    const { conversations } = setup(60);
    const deliveryQueue = new MemoryQueue();
    const intake = new JobIntake({
      config: { allowedTenantIds: undefined },
      jobs: new MemoryJobStore(),
      rejected: new MemoryRejectedJobStore(),
      deliveryQueue,
      users: conversations,
    });
    const names = Array.from({ length: 60 }, (_, i) => `u${String(i).padStart(4, '0')}`);
    const result = await intake.accept(
      {
        id: 'named',
        tenantId: TENANT,
        recipients: names.map((userId) => ({ userId })),
        message: { text: 'x' },
      },
      { source: 'test', rawBody: '' },
    );
    expect(result).toMatchObject({ ok: true, recipients: 60 });
    const batches = deliveryQueue.messages.map((m) => m.message);
    expect(batches.every(isDeliveryBatch)).toBe(true);
    const tasks = batches.filter(isDeliveryBatch).flatMap(tasksOf);
    expect(batches.filter(isDeliveryBatch).map((b) => b.recipients.length)).toEqual([16, 16, 16, 12]);
    expect(tasks.map((t) => t.recipient).sort()).toEqual(names.map((n) => `userId:${n}`));
    for (const t of tasks) {
      expect(t.user?.userId, t.recipient).toBe(t.recipient.slice('userId:'.length));
      expect(t.counted).toBeUndefined();
    }
  });
});
