import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, TENANT, type TestApp } from './support/app.js';
import { graphEnv, person, startTestGraph, type TestGraph } from './support/fakeGraph.js';
import { customEvents, customMetrics, startIngestion, type Ingestion } from './support/ingestion.js';
import { enqueue, FAST_QUEUES, settled } from './support/pipeline.js';

/**
 * Issue 23: what reaching people through Microsoft Graph tells operators, in Application Insights
 * (the real SDK in the app's process, exporting to a local ingestion endpoint as test/telemetry.test.ts
 * does): the install, Graph's throttling with its Retry-After, and each failure with its reason, with
 * no raw user identifier. On 06d3f9d none of these events exists and every such recipient is
 * DeliveryFailed RecipientNotFound.
 */

let ingestion: Ingestion;
let graph: TestGraph;
let app: TestApp;
const met = person();
const guest = person({ userType: 'Guest', userPrincipalName: 'megan_fabrikam.com#EXT#@contoso.com' });
const blocked = person({ teams: 'blocked' });
const jobs: Record<'met' | 'absent' | 'guest' | 'blocked', string> = {
  met: '',
  absent: '',
  guest: '',
  blocked: '',
};

beforeAll(async () => {
  ingestion = await startIngestion();
  graph = await startTestGraph({ users: [met, guest, blocked] });
  app = await startApp({
    childProcess: true,
    env: {
      ...FAST_QUEUES,
      ...graphEnv(graph),
      APPLICATIONINSIGHTS_CONNECTION_STRING: ingestion.connectionString,
      NODE_EXTRA_CA_CERTS: ingestion.caFile,
      APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true',
      TELEMETRY_LIVE_METRICS: 'false',
    },
  });
  graph.attach(app);
  graph.fault({
    route: (r) => r.route === 'installApp' && r.path.includes(met.id),
    reply: 'throttle',
    retryAfterSeconds: 0.5,
    times: 1,
  });
  const send = async (recipient: Record<string, string>) =>
    (await enqueue(app, { recipients: [recipient as { upn: string }], message: { text: 'x' } })).jobId;
  jobs.met = await send({ upn: met.userPrincipalName });
  jobs.absent = await send({ upn: 'left-the-company@contoso.com' });
  jobs.guest = await send({ aadObjectId: guest.id });
  jobs.blocked = await send({ upn: blocked.userPrincipalName });
  for (const jobId of Object.values(jobs)) await settled(app, jobId, 30_000);
  // SIGTERM: the host drains and the SDK flushes on shutdown.
  await app.host.stop();
});
afterAll(async () => {
  await app?.stop();
  await graph?.stop();
  await ingestion?.stop();
});

const one = (name: string, jobId: string) =>
  customEvents(ingestion.envelopes, name).filter((e) => e.properties.jobId === jobId);

describe('Microsoft Graph in Application Insights', () => {
  it('an install for a person the bot never met, then the DM', () => {
    expect(one('AppInstalledForUser', jobs.met)).toHaveLength(1);
    expect(one('AppInstalledForUser', jobs.met)[0]?.properties).toMatchObject({
      tenantId: TENANT,
      result: 'installed',
    });
    expect(one('DeliverySent', jobs.met)[0]?.properties).toMatchObject({ tenantId: TENANT });
  });

  it("Graph's 429 with its Retry-After, counted as a throttle of the graph service, not a failure", () => {
    const throttled = customEvents(ingestion.envelopes, 'GraphThrottled');
    expect(throttled).toHaveLength(1);
    expect(throttled[0]?.properties).toMatchObject({
      tenantId: TENANT,
      call: 'installApp',
      status: '429',
      hasRetryAfter: 'true',
    });
    expect(throttled[0]?.measurements.retryAfterMs).toBe(500);
    expect(
      customMetrics(ingestion.envelopes, 'Throttles').filter((m) => m.properties.service === 'graph'),
    ).not.toHaveLength(0);
    expect(one('DeliveryFailed', jobs.met)).toEqual([]);
  });

  it('each failure with the reason a person acts on', () => {
    expect(one('DeliveryFailed', jobs.absent)[0]?.properties).toMatchObject({ reason: 'NotInDirectory' });
    expect(one('DeliveryFailed', jobs.blocked)[0]?.properties).toMatchObject({ reason: 'InstallBlocked' });
    expect(one('DeliverySkipped', jobs.guest)[0]?.properties).toMatchObject({ reason: 'GuestAccount' });
  });

  it('no raw user identifier leaves the app', () => {
    const sent = ingestion.bodies.join('\n');
    for (const raw of [
      met.id,
      met.userPrincipalName,
      guest.id,
      blocked.userPrincipalName,
      'left-the-company',
    ])
      expect(sent).not.toContain(raw);
  });
});
