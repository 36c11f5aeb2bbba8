import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DirectoryUser } from '../scripts/sandbox/fakeGraph/directory.js';
import { eventually, ROOT, startApp, TENANT, type TestApp } from './support/app.js';
import { CATALOG_APP, graphEnv, person, startTestGraph, type TestGraph } from './support/fakeGraph.js';
import { enqueue, FAST_QUEUES, settled, status } from './support/pipeline.js';

/**
 * Issue 23: every way reaching a never-met person can fail ends as a delivery outcome whose reason
 * a person can act on, in GET status and `npm run status`; Graph's throttling is waited out, never
 * the delivery's failure. Graph answers as Microsoft documents (the fake: scripts/sandbox/fakeGraph/).
 * On 06d3f9d each of these is RecipientNotFound ("install the bot for the user ..."), whatever the cause.
 */

const run = promisify(execFile);
let graph: TestGraph;
let app: TestApp;
let bare: TestApp;
const unlicensed = person({ teams: 'unlicensed' });
const blocked = person({ teams: 'blocked' });
const guest = person({ userType: 'Guest', userPrincipalName: 'adele_fabrikam.com#EXT#@contoso.com' });
const disabled = person({ accountEnabled: false });
const throttled = person();
const rescheduled = person();
const unpermitted = person();
const users: DirectoryUser[] = [unlicensed, blocked, guest, disabled, throttled, rescheduled, unpermitted];

beforeAll(async () => {
  graph = await startTestGraph({ users });
  [app, bare] = await Promise.all([
    startApp({ env: { ...FAST_QUEUES, ...graphEnv(graph) } }),
    // Graph not configured: no GRAPH_BASE_URL and no app ID, as every deployment before this one.
    startApp({ env: { ...FAST_QUEUES }, childProcess: true }),
  ]);
  graph.attach(app);
});
afterAll(async () => {
  await Promise.all([app?.stop(), bare?.stop()]);
  await graph?.stop();
});

async function outcome(a: TestApp, recipient: Record<string, string>) {
  const { jobId } = await enqueue(a, { recipients: [recipient as { upn: string }], message: { text: 'x' } });
  return { jobId, ...(await settled(a, jobId, 30_000)).recipients[0]! };
}
const installs = (user: DirectoryUser) =>
  graph.requests.filter((r) => r.route === 'installApp' && r.path.includes(user.id));

describe('failures a person can act on', () => {
  it('Graph not configured: everything as before, and the reason says why', async () => {
    const r = await outcome(bare, { upn: 'nobody@contoso.com' });
    expect(r).toMatchObject({ status: 'failed', reason: 'RecipientNotFound' });
    expect(r.detail).toMatch(/Microsoft Graph is not configured: MicrosoftAppId is not set/);
  });

  it('Graph not configured: a group audience is refused, saying so', async () => {
    const { jobId } = await enqueue(bare, {
      recipients: [{ groupId: '02bd9fd6-8f93-4758-87c3-1fb73740a315' }],
      message: { text: 'x' },
    });
    const s = await eventually(
      () => status(bare, jobId).then((r) => (r?.expansion?.state === 'failed' ? r : undefined)),
      20_000,
      'the refusal',
    );
    expect(s.expansion).toMatchObject({ reason: 'GraphNotConfigured', expanded: 0 });
    expect(s.expansion?.errors?.[0]).toMatch(
      /group 02bd9fd6-8f93-4758-87c3-1fb73740a315 is read through Microsoft Graph: Microsoft Graph is not configured/,
    );
  });

  it('not in the directory', async () => {
    const r = await outcome(app, { upn: 'left-the-company@contoso.com' });
    expect(r).toMatchObject({ status: 'failed', reason: 'NotInDirectory' });
    expect(r.detail).toMatch(
      /no such user in the tenant's directory \(Microsoft Graph answered 404 itemNotFound/,
    );
  });

  it('a permission missing, named (a directory read refused)', async () => {
    graph.setRoles([
      'AppCatalog.Read.All',
      'TeamsAppInstallation.ReadWriteSelfForUser.All',
      'GroupMember.Read.All',
    ]);
    try {
      const r = await outcome(app, { aadObjectId: unpermitted.id });
      expect(r).toMatchObject({ status: 'failed', reason: 'GraphPermissionMissing' });
      expect(r.detail).toMatch(/grant it the Microsoft Graph application permission User\.Read\.All/);
    } finally {
      graph.setRoles([
        'User.Read.All',
        'AppCatalog.Read.All',
        'TeamsAppInstallation.ReadWriteSelfForUser.All',
        'GroupMember.Read.All',
      ]);
    }
  });

  it('install blocked by an app permission policy, and a user without a Teams licence: InstallBlocked', async () => {
    for (const user of [blocked, unlicensed]) {
      const r = await outcome(app, { upn: user.userPrincipalName });
      expect(r).toMatchObject({ status: 'failed', reason: 'InstallBlocked' });
      expect(r.detail).toMatch(/no Teams licence, or an app permission policy .* blocks the app for them/);
      expect(r.detail).toMatch(/403 accessDenied/);
    }
  });

  it('guests and disabled accounts are skipped, with the reason, and nothing is installed for them', async () => {
    expect(await outcome(app, { upn: guest.userPrincipalName })).toMatchObject({
      status: 'skipped',
      reason: 'GuestAccount',
    });
    expect(await outcome(app, { aadObjectId: disabled.id })).toMatchObject({
      status: 'skipped',
      reason: 'AccountDisabled',
    });
    expect([...installs(guest), ...installs(disabled)]).toEqual([]);
  });

  it('shows in `npm run status` with its reason, and the command exits 1', async () => {
    const r = await outcome(app, { upn: 'another-leaver@contoso.com' });
    const result = await run(process.execPath, ['dist/scripts/status.js', r.jobId, '--tenant', TENANT], {
      cwd: ROOT,
      env: { ...process.env, AzureWebJobsStorage: app.azurite.connectionString },
    }).then(
      () => ({ code: 0, stdout: '' }),
      (err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout }),
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/failed\s+upn:another-leaver@contoso\.com\s+NotInDirectory: no such user/);
  });
});

describe("Graph's throttling is waited out", () => {
  it('429s with Retry-After on the install: waited in process, then sent, never failed', async () => {
    graph.fault({
      route: (r) => r.route === 'installApp' && r.path.includes(throttled.id),
      reply: 'throttle',
      retryAfterSeconds: 0.3,
      times: 2,
    });
    const r = await outcome(app, { upn: throttled.userPrincipalName });
    expect(r).toMatchObject({ status: 'sent' });
    expect(installs(throttled).map((c) => c.status)).toEqual([429, 429, 201]);
  });

  it('more 429s than the in-process retries: rescheduled through the queue, then sent', async () => {
    graph.fault({
      route: (r) => r.route === 'getUser' && r.path.includes(rescheduled.id),
      reply: 'throttle',
      retryAfterSeconds: 0.2,
      times: 5,
    });
    const r = await outcome(app, { aadObjectId: rescheduled.id });
    expect(r).toMatchObject({ status: 'sent' });
    expect(
      graph.requests
        .filter((c) => c.route === 'getUser' && c.path.includes(rescheduled.id))
        .map((c) => c.status),
    ).toEqual([429, 429, 429, 429, 429, 200]);
    expect(app.logs.some((l) => /rescheduled in \d+ ms \(GraphThrottled\)/.test(l.message))).toBe(true);
  });
});

describe("the app's catalog ID", () => {
  it('a wrong TEAMS_APP_CATALOG_ID: AppNotInCatalog, telling how to publish', async () => {
    const other = await startApp({
      env: {
        ...FAST_QUEUES,
        ...graphEnv(graph),
        TEAMS_APP_CATALOG_ID: '00000000-0000-0000-0000-00000000dead',
      },
      childProcess: true,
    });
    try {
      const user = person();
      graph.directory.addUser(user);
      const r2 = await outcome(other, { upn: user.userPrincipalName });
      expect(r2).toMatchObject({
        status: 'failed',
        reason: 'AppNotInCatalog',
        detail: expect.stringMatching(/publish it \(docs\/deploy\.md\)/),
      });
    } finally {
      await other.stop();
    }
  });

  it('looked up by the manifest ID when TEAMS_APP_CATALOG_ID is empty; not published: AppNotInCatalog', async () => {
    const lookUp = await startApp({
      env: { ...FAST_QUEUES, ...graphEnv(graph, { lookUpCatalog: true }) },
      childProcess: true,
    });
    graph.attach(lookUp);
    try {
      const found = person();
      graph.directory.addUser(found);
      expect(await outcome(lookUp, { upn: found.userPrincipalName })).toMatchObject({ status: 'sent' });
      expect(
        graph.requests.some(
          (r) =>
            r.route === 'listCatalog' &&
            r.query.get('$filter') === `externalId eq '${CATALOG_APP.externalId}'`,
        ),
      ).toBe(true);
      graph.directory.catalog.length = 0; // unpublished
      const unpublished = await startApp({
        env: { ...FAST_QUEUES, ...graphEnv(graph, { lookUpCatalog: true }) },
        childProcess: true,
      });
      try {
        const missing = person();
        graph.directory.addUser(missing);
        const r = await outcome(unpublished, { upn: missing.userPrincipalName });
        expect(r).toMatchObject({ status: 'failed', reason: 'AppNotInCatalog' });
        expect(r.detail).toMatch(
          new RegExp(`no app with manifest id ${CATALOG_APP.externalId} in the organization's app catalog`),
        );
      } finally {
        await unpublished.stop();
      }
    } finally {
      graph.directory.catalog.push(CATALOG_APP);
      graph.attach(app);
      await lookUp.stop();
    }
  });
});
