import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobStatus } from '../functions/getNotification/jobStatus.js';
import { BOT_ID, FUNCTION_KEY, TENANT, eventually, startApp, type TestApp } from './support/app.js';
import { FAST_QUEUES, enqueue, seedUser, sentTo, settled, status, store } from './support/pipeline.js';

/**
 * Issue 22, item 3's contract faults, against real Azurite, the local host and the Teams-like
 * connector: one person named twice gets one message and a truthful record for the other key; IDs
 * the contract does not allow are refused at the door, and every ID it allows is stored and reached.
 */

let app: TestApp;

beforeAll(async () => {
  app = await startApp({ env: FAST_QUEUES });
});

afterAll(async () => {
  await app?.stop();
});

const post = (body: unknown) => app.post('notifications', body, { 'x-functions-key': FUNCTION_KEY });

describe('one person named twice in a job', () => {
  it('gets one message; the other keys are skipped as DuplicateRecipient, naming the key that was sent', async () => {
    const user = await seedUser(app);
    const { jobId } = await enqueue(app, {
      recipients: [{ upn: user.upn! }, { userId: user.userId }, { aadObjectId: user.aadObjectId! }],
      message: { text: 'deploy 42 is out' },
    });
    const s = await settled(app, jobId);
    const chat = app.connector.conversationIdFor(TENANT, user.userId, BOT_ID);
    expect(sentTo(app, chat).map((a) => a.body.text)).toEqual(['deploy 42 is out']);
    expect(s.totals).toMatchObject({ recipients: 3, sent: 1, skipped: 2, failed: 0, pending: 0 });
    const sentKey = s.recipients.find((r) => r.status === 'sent')!.recipient;
    const others = s.recipients.filter((r) => r.recipient !== sentKey);
    expect(others).toHaveLength(2);
    for (const r of others) {
      expect(r).toMatchObject({ status: 'skipped', reason: 'DuplicateRecipient' });
      expect(r.detail).toContain(sentKey);
    }
  });

  it('named beside a team audience they belong to, gets one message', async () => {
    const user = await seedUser(app, { userId: '29:audience-and-named' });
    const teamId = '19:dedupe@thread.tacv2';
    const s = store(app);
    await s.saveTeam({
      tenantId: TENANT,
      teamId,
      serviceUrl: app.connector.url,
      installed: true,
      memberCount: 1,
      rosterSyncedAt: new Date().toISOString(),
    });
    await s.addTeamMembers(TENANT, teamId, [user.userId]);
    const { jobId } = await enqueue(app, {
      recipients: [{ teamId }, { upn: user.upn! }],
      message: { text: 'team and named' },
    });
    await settled(app, jobId);
    const chat = app.connector.conversationIdFor(TENANT, user.userId, BOT_ID);
    expect(sentTo(app, chat).filter((a) => a.body.text === 'team and named')).toHaveLength(1);
  });
});

describe('IDs the contract bounds', () => {
  const nonAscii = 'ü'.repeat(253);

  it('a 256-character non-ASCII userId or teamId is refused over HTTP with the field named', async () => {
    for (const [field, recipient] of [
      ['/recipients/0/userId', { userId: `29:${nonAscii}` }],
      ['/recipients/0/teamId', { teamId: `19:${nonAscii}` }],
    ] as const) {
      const res = await post({ tenantId: TENANT, recipients: [recipient], message: { text: 'x' } });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: string; errors: string[] };
      expect(body.error).toBe('SchemaInvalid');
      expect(body.errors).toEqual([expect.stringMatching(new RegExp(`^${field}: .*printable ASCII`))]);
    }
  });

  it('put on the queue, it is set aside in RejectedJobs and its status says so, never pending', async () => {
    const job = {
      id: 'long-non-ascii',
      tenantId: TENANT,
      recipients: [{ userId: `29:${nonAscii}` }],
      message: { text: 'x' },
    };
    await app.queue('notification-jobs').sendMessage(Buffer.from(JSON.stringify(job)).toString('base64'));
    const s = await eventually(
      async () => (await status(app, job.id))?.rejected && (await status(app, job.id)),
    );
    expect(s).toMatchObject({ rejected: true, reason: 'SchemaInvalid', totals: { pending: 0 } });
    expect(s!.errors).toEqual([expect.stringMatching(/^\/recipients\/0\/userId: /)]);
  });

  it('a 256-character printable ASCII userId whose encoding is longest is stored and messaged', async () => {
    // Every character outside A-Z a-z 0-9 - _ . encodes to three: 768 characters, past a key's 512.
    const userId = `29:${'%'.repeat(253)}`;
    const upn = `${'+'.repeat(120)}@contoso.com`;
    await seedUser(app, { userId, upn });
    const { jobId } = await enqueue(app, {
      recipients: [{ upn }, { userId }],
      message: { text: 'long IDs' },
    });
    const s: JobStatus = await settled(app, jobId);
    expect(s.totals).toMatchObject({ sent: 1, skipped: 1, pending: 0 });
    const chat = app.connector.conversationIdFor(TENANT, userId, BOT_ID);
    expect(sentTo(app, chat).map((a) => a.body.text)).toEqual(['long IDs']);
  });
});
