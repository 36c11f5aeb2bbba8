import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DirectoryUser } from '../scripts/sandbox/fakeGraph/directory.js';
import { eventually, startApp, type TestApp } from './support/app.js';
import {
  APP_ID,
  ISSUER,
  MI_PRINCIPAL_ID,
  startDeployedIdentity,
  type DeployedIdentity,
} from './support/deployedIdentity.js';
import { JWT_BEARER, TOKEN_EXCHANGE_AUDIENCE, type EntraLogin } from './support/entraLogin.js';
import { CATALOG_APP, person, startTestGraph, type TestGraph } from './support/fakeGraph.js';
import { GRAPH_HOST, graphCertificate } from './support/graphRouting.js';
import { routingEnv } from './support/workerRouting.js';
import { enqueue, FAST_QUEUES, settled, status } from './support/pipeline.js';
import { startTrapServer, type TrapServer } from './support/trapServer.js';

/**
 * Issue 23 with the deployment's identity (issue 21): the app calls Microsoft Graph as its app
 * registration, with a token Microsoft Entra ID issues for the client assertion the managed
 * identity gives (@azure/identity ClientAssertionCredential), at the real https://graph.microsoft.com
 * (routed to the fake Graph here); the token goes to Microsoft Graph's host and nowhere else, and
 * its roles name a missing permission. Entra, the identity endpoint and Graph are fakes after
 * Microsoft's docs. None of it exists on 06d3f9d.
 */

const WITHOUT_INSTALL = ['User.Read.All', 'GroupMember.Read.All'];
const GROUP = '02bd9fd6-8f93-4758-87c3-1fb73740a315';

let identity: DeployedIdentity;
let login: EntraLogin;
let graph: TestGraph;
let trap: TrapServer;
let app: TestApp;
const roles: Record<string, readonly string[]> = { [APP_ID]: WITHOUT_INSTALL };
const [first, second] = [person(), person()] as [DirectoryUser, DirectoryUser];

beforeAll(async () => {
  const tls = await graphCertificate();
  trap = await startTrapServer();
  // Short-lived tokens: each Graph call asks Entra again, so a permission granted mid-test is seen.
  identity = await startDeployedIdentity({
    assertionSeconds: 3600,
    graphRoles: roles,
    tokenLifetimeSeconds: 60,
  });
  login = identity.login;
  graph = await startTestGraph({
    users: [first, second],
    groups: [{ id: GROUP, displayName: 'Leaky', members: [first.id] }],
    tls,
    publicOrigin: 'https://graph.microsoft.com',
    verifyToken: (token) => login.graphTokenRoles(token),
  });
  // The app runs in the local host's worker: Entra's and Graph's hosts go to the fakes there too.
  const routing = routingEnv([login.hostRoute, { host: GRAPH_HOST, port: graph.port, ca: tls.cert }]);
  app = await startApp({
    env: (connector) => ({
      ...FAST_QUEUES,
      ...identity.appSettings(connector.url),
      TEAMS_APP_CATALOG_ID: CATALOG_APP.id,
      ...routing,
    }),
  });
  graph.attach(app);
});
afterAll(async () => {
  await app?.stop();
  await Promise.all([identity?.stop(), graph?.stop(), trap?.stop()]);
});

const graphTokens = () =>
  login.tokenRequests.filter((r) => r.form.scope === 'https://graph.microsoft.com/.default');

describe('Microsoft Graph with the app registration token', () => {
  it("signs in as the app with the managed identity's token as client assertion; its roles name what is missing", async () => {
    const r = (
      await settled(
        app,
        (await enqueue(app, { recipients: [{ upn: first.userPrincipalName }], message: { text: 'x' } }))
          .jobId,
        30_000,
      )
    ).recipients[0];
    expect(r).toMatchObject({ status: 'failed', reason: 'GraphPermissionMissing' });
    expect(r!.detail).toMatch(
      /grant it the Microsoft Graph application permission TeamsAppInstallation\.ReadWriteSelfForUser\.All/,
    );
    // No install was tried without the permission; the user was read with the token.
    expect(graph.requests.map((q) => `${q.route} ${q.status}`)).toEqual(['getUser 200']);
    expect(graphTokens().length).toBeGreaterThan(0);
    for (const request of graphTokens()) {
      expect(request.form).toMatchObject({
        grant_type: 'client_credentials',
        client_id: APP_ID,
        client_assertion_type: JWT_BEARER,
      });
      expect(request.form).not.toHaveProperty('client_secret');
      expect(decodeJwt(request.form.client_assertion!)).toMatchObject({
        iss: ISSUER,
        sub: MI_PRINCIPAL_ID,
        aud: TOKEN_EXCHANGE_AUDIENCE,
      });
    }
  });

  it('with the permission granted, installs and sends; every Graph call carried a Graph token, nothing else did', async () => {
    roles[APP_ID] = [...WITHOUT_INSTALL, 'TeamsAppInstallation.ReadWriteSelfForUser.All'];
    const s = await settled(
      app,
      (await enqueue(app, { recipients: [{ upn: second.userPrincipalName }], message: { text: 'hi' } }))
        .jobId,
      30_000,
    );
    expect(s.recipients[0]).toMatchObject({ status: 'sent' });
    expect(graph.requests.map((q) => q.route)).toEqual(
      expect.arrayContaining(['installApp', 'listInstalledApps', 'getChat']),
    );
    const bearer = graph.requests.map((q) => q.authorization);
    expect(bearer.every((a) => /^Bearer ey/.test(a ?? ''))).toBe(true);
    // The Bot Connector got Bot Framework tokens only.
    const graphBearers = new Set(bearer);
    expect(app.connector.calls.length).toBeGreaterThan(0);
    expect(app.connector.calls.some((c) => graphBearers.has(c.headers.authorization as string))).toBe(false);
  });

  it('a next page from another host is never read: the token does not leave for it', async () => {
    graph.fault({
      route: 'listMembers',
      reply: {
        status: 200,
        body: {
          value: [],
          '@odata.nextLink': `${trap.url}v1.0/groups/${GROUP}/transitiveMembers/microsoft.graph.user?$skiptoken=x`,
        },
      },
      times: 1,
    });
    const { jobId } = await enqueue(app, { recipients: [{ groupId: GROUP }], message: { text: 'x' } });
    const s = await eventually(
      () => status(app, jobId).then((r) => (r?.expansion?.state === 'failed' ? r : undefined)),
      30_000,
      'the refusal',
    );
    expect(s.expansion).toMatchObject({ reason: 'UntrustedGraphUrl' });
    expect(trap.requests).toEqual([]);
  });
});

describe('a GRAPH_BASE_URL that is not Microsoft Graph', () => {
  it('gets no call and no token; an unknown recipient fails saying why', async () => {
    const other = await startApp({
      childProcess: true,
      env: (connector) => ({
        ...FAST_QUEUES,
        ...identity.appSettings(connector.url),
        GRAPH_BASE_URL: `${trap.url}v1.0`,
      }),
    });
    try {
      const r = (
        await settled(
          other,
          (await enqueue(other, { recipients: [{ upn: first.userPrincipalName }], message: { text: 'x' } }))
            .jobId,
        )
      ).recipients[0];
      expect(r).toMatchObject({ status: 'failed', reason: 'RecipientNotFound' });
      expect(r!.detail).toMatch(
        /GRAPH_BASE_URL points at 127\.0\.0\.1:\d+, not Microsoft Graph: the app's token goes to Microsoft Graph only/,
      );
      expect(trap.requests).toEqual([]);
    } finally {
      await other.stop();
    }
  });
});
