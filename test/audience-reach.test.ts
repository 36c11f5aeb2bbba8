import { describe, expect, it } from 'vitest';
import { FUNCTION_KEY, TENANT, eventually, type TestApp } from './support/app.js';
import { seedUsers } from './support/audience.js';
import { useAudienceApp } from './support/audienceApp.js';
import { enqueue, settled, status, store } from './support/pipeline.js';

/**
 * Issue 15: who an audience (a team, all users) reaches, against real Azurite, the local host and
 * the Teams-like connector: each person once, stale rosters read again, clear reasons for an
 * audience that reaches no one. What becomes of its deliveries: audience-outcomes.test.ts.
 */

let app: TestApp;
const { people, team, sends } = useAudienceApp((started) => (app = started));

describe('team audiences', () => {
  it('sends every member of two overlapping teams and a named user once; opted-out members are skipped', async () => {
    const [a1, a2, both, b1, optedOut, named] = people(6) as [string, string, string, string, string, string];
    await team('19:team-a@thread.tacv2', [a1, a2, both, optedOut]);
    await team('19:team-b@thread.tacv2', [both, b1]);
    await store(app).updateUser(TENANT, optedOut, (u) => u && { ...u, optedOut: true });
    await seedUsers({
      connectionString: app.azurite.connectionString,
      tenantId: TENANT,
      serviceUrl: app.connector.url,
      userIds: [named],
      source: 'personal',
    });
    const { jobId } = await enqueue(app, {
      recipients: [
        { teamId: '19:team-a@thread.tacv2' },
        { teamId: '19:team-b@thread.tacv2' },
        { userId: named },
        { userId: a1 },
      ],
      message: { text: 'All hands at 3' },
    });
    const done = await settled(app, jobId);
    expect(sends([a1, a2, both, b1, named])).toEqual([1, 1, 1, 1, 1]);
    expect(sends([optedOut])).toEqual([0]);
    expect(done.totals).toEqual({
      recipients: 6,
      sent: 5,
      failed: 0,
      skipped: 1,
      pending: 0,
      ...{ recalled: 0, cancelled: 0, read: 0, acknowledged: 0, updated: 0, changeFailed: 0 },
    });
    expect(done.expansion).toMatchObject({
      state: 'done',
      expanded: 6,
      progress: expect.stringMatching(/^expanded 6 of about \d+$/),
    });
  });

  it('reads a stale roster from Teams again: a member who left is not sent to, a new one is', async () => {
    const [stays, left, joined] = people(3) as [string, string, string];
    const teamId = '19:stale@thread.tacv2';
    await team(teamId, [stays, left], { syncedAt: new Date(Date.now() - 3 * 3600_000).toISOString() });
    // The roster as Teams answers it now (get-teams-context, "Fetch the roster"): `left` is gone.
    app.connector.setRoster(teamId, [
      {
        id: stays,
        name: 'Stays',
        objectId: '00000000-0000-0000-0000-00000000a001',
        userPrincipalName: 'stays@contoso.com',
        tenantId: TENANT,
        userRole: 'user',
      },
      {
        id: joined,
        name: 'Joined',
        objectId: '00000000-0000-0000-0000-00000000a002',
        userPrincipalName: 'joined@contoso.com',
        tenantId: TENANT,
        userRole: 'user',
      },
    ]);
    const { jobId } = await enqueue(app, { recipients: [{ teamId }], message: { text: 'Team news' } });
    const done = await settled(app, jobId);
    expect(sends([stays, joined, left])).toEqual([1, 1, 0]);
    expect(done.totals).toMatchObject({ recipients: 2, sent: 2 });
    const gone = await store(app).getUserById(TENANT, left);
    expect(gone?.inactiveReason).toBe('RemovedFromTeam');
    expect((await store(app).getTeam(TENANT, teamId))?.memberCount).toBe(2);
  });
});

describe('all users', () => {
  it('reaches every active user the bot knows in the tenant once, and no inactive one', async () => {
    const active = people(7);
    const inactive = people(2);
    await seedUsers({
      connectionString: app.azurite.connectionString,
      tenantId: TENANT,
      serviceUrl: app.connector.url,
      userIds: active,
      source: 'personal',
    });
    await seedUsers({
      connectionString: app.azurite.connectionString,
      tenantId: TENANT,
      serviceUrl: app.connector.url,
      userIds: inactive,
      source: 'personal',
      inactive: true,
    });
    const before = app.connector.accepted.length;
    const { jobId } = await enqueue(app, {
      recipients: [{ allUsers: true }, { userId: active[0]! }],
      message: { text: 'Company update' },
    });
    const done = await settled(app, jobId, 30_000);
    expect(sends(active)).toEqual(active.map(() => 1));
    expect(sends(inactive)).toEqual([0, 0]);
    // Everyone active in the tenant (other tests' users too), each once.
    expect(app.connector.accepted.length - before).toBe(done.totals.sent);
    expect(done.totals.pending).toBe(0);
    expect(done.totals.recipients).toBe(done.totals.sent + done.totals.skipped + done.totals.failed);
  });
});

describe('bad audiences', () => {
  it('gives an unknown team, a team without the bot and an empty audience a clear reason, and sends nothing', async () => {
    await store(app).saveTeam({
      tenantId: TENANT,
      teamId: '19:gone@thread.tacv2',
      serviceUrl: app.connector.url,
      installed: false,
      memberCount: 0,
    });
    await store(app).saveTeam({
      tenantId: TENANT,
      teamId: '19:empty@thread.tacv2',
      serviceUrl: app.connector.url,
      installed: true,
      memberCount: 0,
      rosterSyncedAt: new Date().toISOString(),
    });
    const cases = [
      ['19:never-seen@thread.tacv2', 'UnknownTeam', /not known to the bot/],
      ['19:gone@thread.tacv2', 'TeamNotInstalled', /not installed/],
      ['19:empty@thread.tacv2', 'EmptyAudience', /no active user/],
    ] as const;
    const before = app.connector.accepted.length;
    for (const [teamId, reason, text] of cases) {
      const { jobId } = await enqueue(app, { recipients: [{ teamId }], message: { text: 'x' } });
      const s = await eventually(
        async () => {
          const st = await status(app, jobId);
          // The reason is set on the job first, then written to RejectedJobs.
          return st?.expansion?.state === 'failed' && st.lastRejection ? st : undefined;
        },
        15_000,
        `${reason} to show`,
      );
      expect(s.expansion).toMatchObject({ reason, errors: [expect.stringMatching(text)] });
      expect(s.lastRejection).toMatchObject({ reason });
      expect(s.complete).toBe(true);
    }
    expect(app.connector.accepted.length).toBe(before);
  });

  it('accepts an audience over HTTP and names it in the answer', async () => {
    const res = await app.post(
      'notifications',
      {
        tenantId: TENANT,
        recipients: [{ teamId: '19:never-seen@thread.tacv2' }, { upn: 'x@contoso.com' }],
        message: { text: 'x' },
      },
      { 'x-functions-key': FUNCTION_KEY },
    );
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({
      recipients: 1,
      audience: { teams: ['19:never-seen@thread.tacv2'], allUsers: false },
    });
  });

  it('refuses more than 25 teams in one job over HTTP with what is wrong', async () => {
    const res = await app.post(
      'notifications',
      {
        tenantId: TENANT,
        recipients: Array.from({ length: 26 }, (_, i) => ({ teamId: `19:t${i}@thread.tacv2` })),
        message: { text: 'x' },
      },
      { 'x-functions-key': FUNCTION_KEY },
    );
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toMatch(/at most 25/);
  });
});
