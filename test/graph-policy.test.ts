import { describe, expect, it } from 'vitest';
import { loadConfig } from '../shared/config.js';
import { decideGraphFailure, permissionMissing, rolesAllow } from '../shared/graph/failures.js';
import { budgetOf, rateOf } from '../shared/graph/limits.js';
import { parseRetryAfter } from '../shared/graph/middleware.js';
import { installEligibility } from '../shared/graph/people.js';
import type { GraphCall, GraphFailure } from '../shared/graph/port.js';
import { graphScope, graphSetup, relativeLink, tenantProblem } from '../shared/graph/setup.js';
import { rolesOf } from '../shared/graph/token.js';

/**
 * Microsoft Graph's decisions, without Azurite or a fake: where Graph may be called and with which
 * token, what each Graph answer becomes (statuses and codes: microsoft-graph-docs-contrib
 * concepts/errors.md and throttling.md), who the app installs itself for, and which budget each call
 * spends (concepts/throttling-limits.md). None of it exists on 06d3f9d.
 */

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const FEDERATED = {
  MicrosoftAppId: '3f6c1a9e-52d4-4b0f-9e7a-8c1d2b4e6f90',
  MicrosoftAppType: 'SingleTenant',
  MicrosoftAppTenantId: TENANT,
  MicrosoftAppClientId: '9b2e4c71-0a3d-4f58-b6e1-27c9d8a5f304',
};
const setupOf = (env: Record<string, string>) => graphSetup(loadConfig(env));

describe('where Microsoft Graph is, and who gets a token', () => {
  it('the deployment: Microsoft Graph, the app registration token, the app tenant only', () => {
    const setup = setupOf(FEDERATED);
    expect(setup).toEqual({
      enabled: true,
      origin: 'https://graph.microsoft.com',
      version: 'v1.0',
      auth: 'app',
      tenantId: TENANT,
    });
    expect(graphScope(setup as never)).toBe('https://graph.microsoft.com/.default');
    expect(tenantProblem(setup, TENANT)).toBeUndefined();
    expect(tenantProblem(setup, '00000000-0000-0000-0000-000000000001')).toMatch(
      /set up for tenant 72f988bf.* only/,
    );
  });

  it("national clouds' roots are Microsoft Graph too (concepts/deployments.md)", () => {
    for (const root of [
      'https://graph.microsoft.us/v1.0',
      'https://dod-graph.microsoft.us/v1.0',
      'https://microsoftgraph.chinacloudapi.cn/v1.0',
    ])
      expect(setupOf({ ...FEDERATED, GRAPH_BASE_URL: root })).toMatchObject({ enabled: true, auth: 'app' });
  });

  it('a loopback fake without an app ID: called without a token, any tenant', () => {
    const setup = setupOf({ GRAPH_BASE_URL: 'http://127.0.0.1:4567/v1.0' });
    expect(setup).toEqual({
      enabled: true,
      origin: 'http://127.0.0.1:4567',
      version: 'v1.0',
      auth: 'none',
      tenantId: undefined,
    });
    expect(tenantProblem(setup, TENANT)).toBeUndefined();
  });

  it('never a token for anything but Microsoft Graph over https: such a root is "not configured"', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [
        { ...FEDERATED, GRAPH_BASE_URL: 'http://127.0.0.1:4567/v1.0' },
        /not Microsoft Graph: the app's token goes to Microsoft Graph only/,
      ],
      [
        { ...FEDERATED, GRAPH_BASE_URL: 'https://graph.example.net/v1.0' },
        /host graph\.example\.net is not Microsoft Graph/,
      ],
      [{ ...FEDERATED, GRAPH_BASE_URL: 'http://graph.microsoft.com/v1.0' }, /is not Microsoft Graph/],
      [
        { ...FEDERATED, GRAPH_BASE_URL: 'https://graph.microsoft.com.evil.io/v1.0' },
        /is not Microsoft Graph/,
      ],
      [{ GRAPH_BASE_URL: 'https://graph.example.net/v1.0' }, /is not Microsoft Graph/],
      [{}, /MicrosoftAppId is not set/],
      [{ MicrosoftAppId: FEDERATED.MicrosoftAppId }, /no credential/],
      [{ GRAPH_BASE_URL: 'not a url' }, /is not a service root/],
      [{ GRAPH_BASE_URL: 'http://127.0.0.1:1/v1.0', WEBSITE_SITE_NAME: 'func-x' }, /local fakes only/],
    ];
    for (const [env, why] of cases) {
      const setup = setupOf(env);
      expect(setup.enabled, JSON.stringify(env)).toBe(false);
      expect(tenantProblem(setup, TENANT)).toMatch(why);
    }
  });

  it('a next page is read only from where the first came from', () => {
    const setup = setupOf({ GRAPH_BASE_URL: 'http://127.0.0.1:4567/v1.0' }) as never;
    expect(
      relativeLink(
        setup,
        'http://127.0.0.1:4567/v1.0/groups/g/transitiveMembers/microsoft.graph.user?$skiptoken=X',
      ),
    ).toBe('groups/g/transitiveMembers/microsoft.graph.user?$skiptoken=X');
    expect(relativeLink(setup, 'http://127.0.0.2:4567/v1.0/groups/g')).toBeUndefined();
    expect(relativeLink(setup, 'https://graph.microsoft.com/v1.0/groups/g')).toBeUndefined();
    expect(relativeLink(setup, 'http://127.0.0.1:4567/beta/groups/g')).toBeUndefined();
  });
});

const failure = (call: GraphCall, status: number, retryAfterMs?: number): GraphFailure => ({
  ok: false,
  call,
  status,
  code: status === 429 ? 'TooManyRequests' : 'accessDenied',
  message: 'm',
  retryAfterMs,
});

describe('what each Graph answer becomes', () => {
  it('429 and 503 are waited out, with Retry-After or a back-off: never the delivery failing', () => {
    expect(decideGraphFailure(failure('installApp', 429, 2128), undefined)).toEqual({
      do: 'reschedule',
      reason: 'GraphThrottled',
      delayMs: 2128,
    });
    expect(decideGraphFailure(failure('getUser', 503, 5000), undefined)).toEqual({
      do: 'reschedule',
      reason: 'GraphUnavailable',
      delayMs: 5000,
    });
    const backoff = decideGraphFailure(failure('getChat', 429), undefined, 2);
    expect(backoff.do).toBe('reschedule');
    expect((backoff as { delayMs: number }).delayMs).toBeGreaterThanOrEqual(2000);
  });

  it('no answer, 5xx and 401 are retried through the queue', () => {
    for (const status of [0, 500, 502])
      expect(decideGraphFailure(failure('getUser', status), undefined)).toMatchObject({
        do: 'retry',
        reason: 'GraphUnavailable',
      });
    expect(decideGraphFailure(failure('getUser', 401), undefined)).toMatchObject({
      do: 'retry',
      reason: 'GraphUnauthorized',
    });
  });

  it('404: not in the directory, no such group, or the app is not in the catalog', () => {
    expect(decideGraphFailure(failure('getUser', 404), undefined)).toMatchObject({
      do: 'fail',
      reason: 'NotInDirectory',
    });
    expect(decideGraphFailure(failure('groupMembers', 404), undefined)).toMatchObject({
      do: 'fail',
      reason: 'UnknownGroup',
    });
    expect(decideGraphFailure(failure('installApp', 404), undefined)).toMatchObject({
      do: 'fail',
      reason: 'AppNotInCatalog',
      detail: expect.stringMatching(/publish it/),
    });
  });

  it('403 on a directory read: the permission is missing, named', () => {
    expect(decideGraphFailure(failure('getUser', 403), undefined)).toMatchObject({
      reason: 'GraphPermissionMissing',
      detail: expect.stringContaining('User.Read.All'),
    });
    expect(decideGraphFailure(failure('groupMembers', 403), ['User.Read.All'])).toMatchObject({
      detail: expect.stringContaining('GroupMember.Read.All'),
    });
  });

  it('403 on an install: a missing permission when the token lacks it, else Teams refused the user', () => {
    const missing = decideGraphFailure(failure('installApp', 403), ['User.Read.All']);
    expect(missing).toEqual(permissionMissing('installApp'));
    expect(missing).toMatchObject({
      detail: expect.stringContaining('TeamsAppInstallation.ReadWriteSelfForUser.All'),
    });
    const blocked = decideGraphFailure(failure('installApp', 403), [
      'TeamsAppInstallation.ReadWriteSelfForUser.All',
    ]);
    expect(blocked).toMatchObject({
      do: 'fail',
      reason: 'InstallBlocked',
      detail: expect.stringMatching(/Teams licence.*app permission policy/),
    });
    expect((blocked as { detail: string }).detail).not.toMatch(/lacks/);
    const unknown = decideGraphFailure(failure('installApp', 403), undefined);
    expect(unknown).toMatchObject({
      reason: 'InstallBlocked',
      detail: expect.stringMatching(/or the app lacks TeamsAppInstallation/),
    });
  });

  it("reads a token's roles, and which roles allow a call", () => {
    const jwt = (claims: object) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
    expect(rolesOf(jwt({ roles: ['User.Read.All'] }))).toEqual(['User.Read.All']);
    expect(rolesOf(jwt({}))).toEqual([]);
    expect(rolesOf('opaque-token')).toBeUndefined();
    expect(rolesAllow('installApp', ['TeamsAppInstallation.ReadWriteForUser.All'])).toBe(true);
    expect(rolesAllow('getChat', ['User.Read.All'])).toBe(false);
    expect(rolesAllow('getChat', undefined)).toBeUndefined();
  });

  it('Retry-After in seconds (fractions too, as throttling.md shows) or as a date', () => {
    expect(parseRetryAfter('2.128')).toBe(2128);
    expect(
      parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:27:58 GMT')),
    ).toBe(2000);
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});

describe('who the app installs itself for', () => {
  const user = { id: 'u', userPrincipalName: 'u@contoso.com' };
  it('members with an enabled account', () => {
    expect(installEligibility({ ...user, accountEnabled: true, userType: 'Member' })).toBeUndefined();
    expect(installEligibility(user)).toBeUndefined();
  });
  it('not disabled accounts nor guests: skipped, with the reason', () => {
    expect(installEligibility({ ...user, accountEnabled: false })).toMatchObject({
      status: 'skipped',
      reason: 'AccountDisabled',
    });
    expect(installEligibility({ ...user, userType: 'Guest' })).toMatchObject({
      status: 'skipped',
      reason: 'GuestAccount',
    });
  });
});

describe("Graph's budgets (throttling-limits.md)", () => {
  it('installs, installedApps reads and directory reads each spend their own per-tenant budget', () => {
    expect(budgetOf('installApp')).toBe('teamsWrite');
    expect(['findInstallation', 'getChat', 'findCatalogApp'].map((c) => budgetOf(c as GraphCall))).toEqual([
      'teamsRead',
      'teamsRead',
      'teamsRead',
    ]);
    expect(['getUser', 'groupMembers', 'countGroupMembers'].map((c) => budgetOf(c as GraphCall))).toEqual([
      'directory',
      'directory',
      'directory',
    ]);
    const settings = loadConfig({}).graph;
    // Teams: 30 rps per app per tenant per row; identity (S tenants) 3,500 units / 10 s at 5 units a page.
    expect([
      rateOf('teamsRead', settings),
      rateOf('teamsWrite', settings),
      rateOf('directory', settings),
    ]).toEqual([30, 30, 70]);
  });
});
