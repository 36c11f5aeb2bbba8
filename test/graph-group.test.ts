import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DirectoryUser } from '../scripts/sandbox/fakeGraph/directory.js';
import { validateJob } from '../shared/jobs/contract.js';
import type { JobStatus } from '../functions/getNotification/jobStatus.js';
import { BOT_ID, eventually, FUNCTION_KEY, startApp, TENANT, type TestApp } from './support/app.js';
import { seedMembers } from './support/audience.js';
import {
  CATALOG_APP,
  graphEnv,
  person,
  startTestGraph,
  teamsIdOf,
  type TestGraph,
} from './support/fakeGraph.js';
import { enqueue, FAST_QUEUES, settled, status, store } from './support/pipeline.js';

/**
 * Issue 23: an Entra group as an audience (`{ groupId }`): every user in it, nested groups
 * included, read from Microsoft Graph page by page (`@odata.nextLink` as the checkpoint), each
 * person once with the job's other recipients, the app installed for those the bot never met,
 * guests and disabled accounts skipped with their reason, and the whole counted in the status.
 * On 06d3f9d a job naming a group is refused as SchemaInvalid.
 */

let graph: TestGraph;
let app: TestApp;
const [known1, unknown2, named3, teamMember4, unknown5, teamOnly6, guest, disabled] = [
  person({ displayName: 'Known One' }),
  person({ displayName: 'Unknown Two' }),
  person({ displayName: 'Named Three' }),
  person({ displayName: 'Team Four' }),
  person({ displayName: 'Unknown Five' }),
  person({ displayName: 'Team Six' }),
  person({ userType: 'Guest' }),
  person({ accountEnabled: false }),
] as [
  DirectoryUser,
  DirectoryUser,
  DirectoryUser,
  DirectoryUser,
  DirectoryUser,
  DirectoryUser,
  DirectoryUser,
  DirectoryUser,
];
const TEAM = '19:group-test-team@thread.tacv2';
const ROOT_GROUP = '02bd9fd6-8f93-4758-87c3-1fb73740a315';
const NESTED = '4d0ef681-e88f-42a3-a2db-e6bf1e249e10';
const SECOND = 'd9fb0c47-c783-40a1-bce1-53b52ada51fc';

beforeAll(async () => {
  graph = await startTestGraph({
    users: [known1, unknown2, named3, teamMember4, unknown5, teamOnly6, guest, disabled],
    groups: [
      { id: ROOT_GROUP, displayName: 'Finance', members: [known1.id, unknown2.id, NESTED] },
      {
        id: NESTED,
        displayName: 'Finance EMEA',
        members: [named3.id, teamMember4.id, guest.id, disabled.id, known1.id],
      },
      { id: SECOND, displayName: 'Audit', members: [unknown2.id, unknown5.id] },
    ],
  });
  app = await startApp({ env: { ...FAST_QUEUES, ...graphEnv(graph), AUDIENCE_PAGE_SIZE: '2' } });
  graph.attach(app);
  // The bot knows three of them already: one personally, two from a team it is installed in.
  const s = store(app);
  await s.saveTenant({ tenantId: TENANT, serviceUrl: app.connector.url, botId: BOT_ID });
  for (const [user, source] of [
    [known1, 'personal'],
    [teamMember4, `team:${TEAM}`],
    [teamOnly6, `team:${TEAM}`],
  ] as const)
    await s.saveUser(
      TENANT,
      {
        userId: teamsIdOf(user),
        aadObjectId: user.id,
        upn: user.userPrincipalName,
        serviceUrl: app.connector.url,
      },
      { source },
    );
  await seedMembers(app.azurite.connectionString, TENANT, TEAM, [
    teamsIdOf(teamMember4),
    teamsIdOf(teamOnly6),
  ]);
  await s.saveTeam({
    tenantId: TENANT,
    teamId: TEAM,
    serviceUrl: app.connector.url,
    installed: true,
    memberCount: 2,
    rosterSyncedAt: new Date().toISOString(),
  });
});
afterAll(async () => {
  await app?.stop();
  await graph?.stop();
});

/** Messages each person got, in any chat with them. */
const received = (user: DirectoryUser) =>
  app.connector.accepted.filter((a) =>
    [
      app.connector.conversationIdFor(TENANT, teamsIdOf(user), BOT_ID),
      `19:${user.id}_${CATALOG_APP.id}@unq.gbl.spaces`,
    ].includes(a.conversationId),
  ).length;

describe('an Entra group audience', () => {
  it('reaches every user of nested groups once, with the named users and a team, and counts them', async () => {
    // Page 2 of the root group is throttled past the in-process retries: the job waits and continues from its checkpoint.
    graph.fault({
      route: (r) => r.route === 'listMembers' && r.query.has('$skiptoken'),
      reply: 'throttle',
      retryAfterSeconds: 0.2,
      times: 4,
    });
    const { jobId } = await enqueue(app, {
      recipients: [
        { upn: named3.userPrincipalName },
        { teamId: TEAM },
        { groupId: ROOT_GROUP },
        { groupId: SECOND },
      ],
      message: { text: 'Quarter closes Friday' },
    });
    const done = await settled(app, jobId, 45_000);
    // named3, the team's two, known1, unknown2, the guest and the disabled account, unknown5: 8 people.
    expect(done.totals).toMatchObject({ recipients: 8, sent: 6, skipped: 2, failed: 0, pending: 0 });
    expect(done.expansion).toMatchObject({ state: 'done', expanded: 8 });
    expect(done.expansion!.estimate).toBeGreaterThanOrEqual(8);
    for (const user of [known1, unknown2, named3, teamMember4, unknown5, teamOnly6])
      expect(received(user), user.displayName).toBe(1);
    expect(received(guest) + received(disabled)).toBe(0);
    const page = await app.get(`notifications/${jobId}?status=skipped`, { 'x-functions-key': FUNCTION_KEY });
    const skipped = ((await page.json()) as JobStatus).recipients;
    expect(skipped.map((r) => r.reason).sort()).toEqual(['AccountDisabled', 'GuestAccount']);
    // The app was installed for the two never met (and the named one), not for the known.
    const installedFor = graph.requests
      .filter((r) => r.route === 'installApp' && r.status === 201)
      .map((r) => r.path);
    expect(installedFor.sort()).toEqual(
      [named3, unknown2, unknown5].map((u) => `/users/${u!.id}/teamwork/installedApps`).sort(),
    );
    // Paged ($top=2) with the ConsistencyLevel the OData cast needs; the throttled page was waited out.
    const pages = graph.requests.filter((r) => r.route === 'listMembers' && r.path.includes(ROOT_GROUP));
    expect(pages.filter((r) => r.status === 429)).toHaveLength(4);
    expect(app.logs.some((l) => /Microsoft Graph asked to wait/.test(l.message))).toBe(true);
  });

  it('an unknown group: the job is refused with UnknownGroup and nothing is sent', async () => {
    const before = app.connector.accepted.length;
    const { jobId } = await enqueue(app, {
      recipients: [{ upn: known1.userPrincipalName }, { groupId: '11111111-2222-3333-4444-555555555555' }],
      message: { text: 'x' },
    });
    const s = await eventually(
      () => status(app, jobId).then((r) => (r?.expansion?.state === 'failed' ? r : undefined)),
      20_000,
      'the refusal',
    );
    expect(s.expansion).toMatchObject({ reason: 'UnknownGroup', expanded: 0 });
    expect(app.connector.accepted.length).toBe(before);
  });

  it('the contract: groupId is an audience, at most 25 groups', () => {
    const job = (n: number) => ({
      tenantId: TENANT,
      recipients: Array.from({ length: n }, (_, i) => ({ groupId: `g-${i}` })),
      message: { text: 'x' },
    });
    expect(validateJob(job(2))).toMatchObject({
      ok: true,
      job: { recipients: [], audience: { teams: [], allUsers: false, groups: ['g-0', 'g-1'] } },
    });
    expect(validateJob(job(26))).toMatchObject({
      ok: false,
      reason: 'SchemaInvalid',
      errors: ['/recipients: 26 groups; a job names at most 25'],
    });
    expect(validateJob({ ...job(1), recipients: [{ groupId: 'not a guid!' }] })).toMatchObject({
      ok: false,
      reason: 'SchemaInvalid',
    });
  });
});
