import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobPartition } from '../shared/azureStorage/tableJobStore.js';
import { DELIVERIES_QUEUE, encodeMessage } from '../shared/queues.js';
import type { ChangeTask } from '../shared/followUps/changeTask.js';
import { BOT_ID, FUNCTION_KEY, ROOT, TENANT, eventually, startApp, type TestApp } from './support/app.js';
import { FAST_QUEUES, enqueue, seedUser, sentTo, settled, status } from './support/pipeline.js';

/**
 * Issue 14: updates and recalls against the Teams-like connector, which answers PUT and DELETE of a
 * message the chat does not hold with 404 ActivityNotFoundInConversation and throttles like Teams.
 * https://learn.microsoft.com/microsoftteams/platform/bots/how-to/update-and-delete-bot-messages
 * https://learn.microsoft.com/microsoftteams/platform/bots/build-conversational-capability#status-codes-from-bot-conversational-apis
 */

let app: TestApp;

beforeAll(async () => {
  app = await startApp({
    env: { ...FAST_QUEUES, CONNECTOR_TIMEOUT_MS: '1000' },
    connector: { rateLimits: {} },
  });
});

afterAll(async () => {
  await app?.stop();
});

const change = (method: 'GET' | 'PATCH' | 'DELETE', jobId: string, body?: unknown) =>
  fetch(`${app.url}/api/notifications/${encodeURIComponent(jobId)}`, {
    method,
    headers: { 'x-functions-key': FUNCTION_KEY, 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });

async function sentJob(users: number, text = 'v1') {
  const seeded = await Promise.all(Array.from({ length: users }, () => seedUser(app)));
  const { jobId } = await enqueue(app, {
    recipients: seeded.map((u) => ({ userId: u.userId })),
    message: { text },
  });
  await settled(app, jobId, 30_000);
  const chats = seeded.map((u) => app.connector.conversationIdFor(TENANT, u.userId, BOT_ID));
  return { jobId, users: seeded, chats };
}

const calls = (route: string, chat: string) =>
  app.connector.calls.filter((c) => c.route === route && c.conversationId === chat);

async function recipientWhen(
  jobId: string,
  check: (r: NonNullable<Awaited<ReturnType<typeof status>>>['recipients'][number]) => boolean,
) {
  return eventually(
    async () => (await status(app, jobId))?.recipients.find(check),
    20_000,
    `job ${jobId} recipient`,
  );
}

describe('update', () => {
  it('replaces the sent copy after a 429 with Retry-After, once, and records the revision', async () => {
    const { jobId, chats } = await sentJob(1);
    const chat = chats[0]!;
    app.connector.script(
      (r) => r.route === 'updateActivity' && r.conversationId === chat,
      { status: 429, retryAfter: 1 },
      1,
    );
    const res = await change('PATCH', jobId, { message: { text: 'v2: the room moved' } });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({
      jobId,
      tenantId: TENANT,
      revision: 1,
      statusUrl: expect.stringContaining(`?tenantId=${TENANT}`),
    });
    const r = await recipientWhen(jobId, (x) => x.revision === 1);
    expect(r).toMatchObject({ status: 'sent', revision: 1, updated: true });
    expect(calls('updateActivity', chat).map((c) => c.status)).toEqual([429, 200]);
    const updates = app.connector.updated.filter((u) => u.conversationId === chat);
    expect(updates).toHaveLength(1);
    expect(updates[0]?.body).toMatchObject({ type: 'message', text: 'v2: the room moved' });
    expect(updates[0]?.activityId).toBe(sentTo(app, chat)[0]?.activityId);
    expect((await status(app, jobId))?.totals).toMatchObject({ sent: 1, updated: 1, changeFailed: 0 });
  });

  it('404 ActivityNotFoundInConversation is recorded with its reason and not retried', async () => {
    const { jobId, chats } = await sentJob(1);
    const chat = chats[0]!;
    app.connector.script(
      (r) => r.route === 'updateActivity' && r.conversationId === chat,
      { status: 404, code: 'ActivityNotFoundInConversation' },
      1,
    );
    expect((await change('PATCH', jobId, { message: { text: 'v2' } })).status).toBe(202);
    const r = await recipientWhen(jobId, (x) => !!x.changeFailure);
    expect(r.changeFailure).toMatchObject({
      op: 'update',
      revision: 1,
      reason: 'ActivityNotFoundInConversation',
    });
    expect(r.status).toBe('sent');
    expect(calls('updateActivity', chat)).toHaveLength(1);
    expect((await status(app, jobId))?.totals).toMatchObject({ updated: 0, changeFailed: 1 });
  });

  it('a redelivered update message does not update twice', async () => {
    const { jobId, users, chats } = await sentJob(1);
    expect((await change('PATCH', jobId, { message: { text: 'v2' } })).status).toBe(202);
    await recipientWhen(jobId, (x) => x.revision === 1);
    const task: ChangeTask = {
      v: 1,
      kind: 'change',
      op: 'update',
      jobId,
      tenantId: TENANT,
      recipient: `userId:${users[0]!.userId}`,
      revision: 1,
      reschedules: 0,
    };
    await app.queue(DELIVERIES_QUEUE).sendMessage(encodeMessage(task));
    await eventually(
      () =>
        app.logs.some((l) =>
          l.message.includes(`job ${jobId}: update (revision 1): nothing to do (already up to date)`),
        ),
      15_000,
      'the copy to be handled',
    );
    expect(app.connector.updated.filter((u) => u.conversationId === chats[0])).toHaveLength(1);
  });

  it('refuses an invalid message or job ID, an unknown job, an update after a recall, a job from before contents were kept', async () => {
    const { jobId } = await sentJob(1);
    const bad = await change('PATCH', jobId, { message: { card: { type: 'NotACard' } } });
    expect(bad.status).toBe(400);
    expect((await change('PATCH', 'no-such-job', { message: { text: 'x' } })).status).toBe(404);
    // A job ID the contract does not allow is refused before anything is read, by each method alike.
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const res = await change(
        method,
        "-no'such",
        method === 'PATCH' ? { message: { text: 'x' } } : undefined,
      );
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'InvalidJobId' });
    }
    expect((await change('DELETE', jobId)).status).toBe(202);
    const refused = await change('PATCH', jobId, { message: { text: 'too late' } });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ error: 'Recalled' });
    // A job accepted before contents were kept (as if its content row had never been written).
    const { jobId: old } = await sentJob(1);
    await app.table('Jobs').deleteEntity(jobPartition(TENANT, old), 'content');
    for (const res of [
      await change('PATCH', old, { message: { text: 'v2' } }),
      await change('DELETE', old),
    ]) {
      expect(res.status).toBe(409);
      expect(await res.json()).toMatchObject({
        error: 'NotChangeable',
        errors: [expect.stringMatching(/accepted before .* cannot be updated or recalled/)],
      });
    }
  });
});

describe('recall', () => {
  it('deletes each sent copy: a 429 is waited out, a 404 is recorded as failed', async () => {
    const { jobId, chats } = await sentJob(2);
    const [a, b] = chats as [string, string];
    app.connector.script(
      (r) => r.route === 'deleteActivity' && r.conversationId === a,
      { status: 429, retryAfter: 1 },
      1,
    );
    app.connector.script(
      (r) => r.route === 'deleteActivity' && r.conversationId === b,
      { status: 404, code: 'ActivityNotFoundInConversation' },
      1,
    );
    expect((await change('DELETE', jobId)).status).toBe(202);
    const s = await eventually(
      async () => {
        const x = await status(app, jobId);
        return x && x.totals.recalled === 1 && x.totals.changeFailed === 1 ? x : undefined;
      },
      20_000,
      'the recall to finish',
    );
    expect(s.recalledAt).toBeDefined();
    expect(calls('deleteActivity', a).map((c) => c.status)).toEqual([429, 200]);
    expect(calls('deleteActivity', b).map((c) => c.status)).toEqual([404]);
    expect(app.connector.deleted.map((d) => d.conversationId).filter((c) => c === a || c === b)).toEqual([a]);
    const failed = s.recipients.find((r) => r.changeFailure);
    expect(failed?.changeFailure).toMatchObject({ op: 'recall', reason: 'ActivityNotFoundInConversation' });
  });
  // A recall racing pending deliveries, across two instances: follow-ups-instances.test.ts.
});

describe('the CLI', () => {
  it('npm run update and npm run recall change a sent job; npm run status shows it', async () => {
    const run = promisify(execFile);
    const env = {
      ...process.env,
      AzureWebJobsStorage: app.azurite.connectionString,
      DEFAULT_TENANT_ID: TENANT,
    };
    const cli = (...args: string[]) => run(process.execPath, args, { cwd: ROOT, env });
    const { jobId, chats } = await sentJob(1);
    const updated = await cli('dist/scripts/change.js', 'update', jobId, '--text', 'v2 from the CLI');
    expect(updated.stdout).toContain(`job ${jobId}: update recorded (revision 1)`);
    await recipientWhen(jobId, (x) => x.revision === 1);
    expect(app.connector.updated.find((u) => u.conversationId === chats[0])?.body).toMatchObject({
      text: 'v2 from the CLI',
    });
    const recalled = await cli('dist/scripts/change.js', 'recall', jobId);
    expect(recalled.stdout).toMatch(/recall recorded \(revision 1\), asked for at \d{4}-\d\d-\d\dT/);
    await recipientWhen(jobId, (x) => x.status === 'recalled');
    const out = await cli('dist/scripts/status.js', jobId);
    expect(out.stdout).toMatch(/1 updated, 1 recalled, 0 cancelled/);
    expect(out.stdout).toMatch(/recalled\s+userId:/);
    const refused = await cli('dist/scripts/change.js', 'update', jobId, '--text', 'v3').catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(refused).toMatchObject({ code: 2, stderr: expect.stringMatching(/Recalled/) });
  });
});
