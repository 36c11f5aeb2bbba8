import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_KEY, ROOT, TENANT, eventually, startApp, type TestApp } from './support/app.js';
import {
  customEvents,
  customMetrics,
  dependencies,
  requests,
  startIngestion,
  telemetrySettings,
  type Ingestion,
} from './support/ingestion.js';
import { personalInstall, personalMessage } from './support/activities.js';
import { FAST_QUEUES, enqueue, seedUser, settled } from './support/pipeline.js';

/**
 * Issue 5: the real applicationinsights SDK in the app's process, exporting to a local ingestion
 * endpoint. Two jobs are delivered (one over POST /api/notifications with a caller's traceparent,
 * one through the typed client with a 429 on the way); once the host stops (appTerminate flushes),
 * what arrived is checked: events, metrics, the connector dependencies, operation IDs, and that no
 * message text or raw user identifier was sent.
 */

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TEXT_A = 'Quarterly numbers are in: secret-body-alpha';
const TEXT_B = 'Deploy finished: secret-body-bravo';

describe('Application Insights telemetry', () => {
  let ingestion: Ingestion;
  let app: TestApp;
  const raw: string[] = [];
  let jobA = '';
  let jobB = '';
  let jobBlocked = '';
  let jobPoisoned = '';

  beforeAll(async () => {
    ingestion = await startIngestion();
    app = await startApp({
      childProcess: true,
      env: { ...FAST_QUEUES, ...telemetrySettings(ingestion) },
    });
    const a = await seedUser(app);
    const b = await seedUser(app);
    raw.push(a.upn!, a.userId, a.aadObjectId!, b.upn!, b.userId, b.aadObjectId!);

    const posted = await app.post(
      'notifications',
      { tenantId: TENANT, recipients: [{ upn: a.upn }], message: { text: TEXT_A } },
      { 'x-functions-key': FUNCTION_KEY, traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` },
    );
    expect(posted.status).toBe(202);
    jobA = ((await posted.json()) as { jobId: string }).jobId;

    // Teams throttles the first attempt to open B's chat.
    app.connector.script(
      (r) => r.route === 'createConversation' && JSON.stringify(r.body).includes(b.userId),
      { status: 429, retryAfter: 1 },
      1,
    );
    jobB = (await enqueue(app, { recipients: [{ aadObjectId: b.aadObjectId! }], message: { text: TEXT_B } }))
      .jobId;

    expect((await settled(app, jobA)).recipients[0]?.status).toBe('sent');
    expect((await settled(app, jobB)).recipients[0]?.status).toBe('sent');

    // The unhappy paths ops watch for: a blocked recipient, a poisoned message, a rejected job.
    const blocked = await seedUser(app);
    const failing = await seedUser(app);
    raw.push(blocked.userId, blocked.upn!, failing.userId, failing.upn!);
    app.connector.script(
      (r) => r.route === 'createConversation' && JSON.stringify(r.body).includes(blocked.userId),
      { status: 403, code: 'ConversationBlockedByUser' },
    );
    app.connector.script(
      (r) => r.route === 'createConversation' && JSON.stringify(r.body).includes(failing.userId),
      { status: 500 },
      10,
    );
    jobBlocked = (await enqueue(app, { recipients: [{ upn: blocked.upn! }], message: { text: TEXT_A } }))
      .jobId;
    jobPoisoned = (await enqueue(app, { recipients: [{ upn: failing.upn! }], message: { text: TEXT_B } }))
      .jobId;
    const rejected = await app.post(
      'notifications',
      { tenantId: TENANT, recipients: [], message: { text: TEXT_A } },
      { 'x-functions-key': FUNCTION_KEY },
    );
    expect(rejected.status).toBe(400);
    expect((await settled(app, jobBlocked)).recipients[0]?.status).toBe('failed');
    expect((await settled(app, jobPoisoned)).recipients[0]?.status).toBe('failed');

    // The bot side: installed for a user, who then says stop.
    const chat = 'a:telemetry-personal-chat';
    const person = { id: '29:telemetry-person', name: 'Telemetry Person', aadObjectId: 'telemetry-aad-1' };
    raw.push(person.id, person.aadObjectId);
    app.connector.registerConversation(chat, { tenantId: TENANT, members: [{ id: person.id }] });
    expect((await app.post('messages', personalInstall(app.connector.url, person, chat))).status).toBe(200);
    expect(
      (await app.post('messages', personalMessage(app.connector.url, person, chat, 'stop'))).status,
    ).toBe(200);
    // The poison-queue function records the poisoned delivery and raises MessagePoisoned.
    await eventually(
      () => app.logs.some((l) => l.message.includes(`notification-deliveries-poison: job ${jobPoisoned}`)),
      20_000,
      'the poisoned delivery to be recorded',
    );
    // SIGTERM: the host drains, runs appTerminate, and the SDK flushes on shutdown.
    await app.host.stop();
  });

  afterAll(async () => {
    await app?.stop();
    await ingestion?.stop();
  });

  it('sends to the configured ingestion endpoint', () => {
    expect(ingestion.paths.length).toBeGreaterThan(0);
    expect(ingestion.paths.every((p) => p.startsWith('/v2.1/track'))).toBe(true);
    expect(ingestion.envelopes.every((e) => e.iKey === '00000000-1111-2222-3333-444444444444')).toBe(true);
  });

  it('reports job accepted and delivery sent with latency, attempts and chat', () => {
    const accepted = customEvents(ingestion.envelopes, 'JobAccepted');
    // A job sent over HTTP is recorded at the door (source http); B came on the queue.
    for (const [jobId, source] of [
      [jobA, 'http'],
      [jobB, 'queue'],
    ]) {
      const event = accepted.find((e) => e.properties.jobId === jobId);
      expect(event?.properties).toMatchObject({ tenantId: TENANT, source, card: 'false' });
      expect(event?.measurements.recipients).toBe(1);
    }
    const sent = customEvents(ingestion.envelopes, 'DeliverySent');
    for (const jobId of [jobA, jobB]) {
      const event = sent.find((e) => e.properties.jobId === jobId);
      expect(event?.properties).toMatchObject({ tenantId: TENANT, firstContact: 'true', chat: 'created' });
      expect(event?.measurements.attempts).toBe(1);
      expect(event?.measurements.latencyMs).toBeGreaterThan(0);
    }
    const b = sent.find((e) => e.properties.jobId === jobB)!;
    // The 429 made B wait at least the second Teams asked for.
    expect(b.measurements.latencyMs).toBeGreaterThanOrEqual(1000);
    // Recipients appear only as salted hashes, with their kind.
    expect(sent.find((e) => e.properties.jobId === jobA)?.properties.recipient).toMatch(/^upn#[\w-]{22}$/);
    expect(b.properties.recipient).toMatch(/^aadObjectId#[\w-]{22}$/);
  });

  it('reports the throttling with its Retry-After and the connector call with its status', () => {
    const throttled = customEvents(ingestion.envelopes, 'Throttled').filter(
      (e) => e.properties.jobId === jobB,
    );
    expect(throttled).toHaveLength(1);
    expect(throttled[0]?.properties).toMatchObject({
      tenantId: TENANT,
      status: '429',
      call: 'CreateConversation',
      hasRetryAfter: 'true',
    });
    expect(throttled[0]?.measurements.retryAfterMs).toBe(1000);

    const connectorHost = new URL(app.connector.url).host;
    const calls = dependencies(ingestion.envelopes).filter((d) => d.target === connectorHost);
    const opB = throttled[0]!.operationId;
    const creates = calls.filter((d) => d.name === 'CreateConversation' && d.operationId === opB);
    expect(creates.map((d) => [d.resultCode, d.success])).toEqual([
      ['429', false],
      ['201', true],
    ]);
    expect(creates.every((d) => d.type === 'Http')).toBe(true);
    const sends = calls.filter((d) => d.name === 'SendToConversation');
    expect(sends.map((d) => d.resultCode).sort()).toEqual(['201', '201']);
  });

  it('keeps one operation ID from enqueue to every delivery attempt and connector call', () => {
    const events = customEvents(ingestion.envelopes);
    const ofJob = (jobId: string) => events.filter((e) => e.properties.jobId === jobId);
    // Job A continues the caller's trace from the POST's traceparent header.
    const a = ofJob(jobA);
    expect(a.map((e) => e.name).sort()).toEqual(['DeliverySent', 'JobAccepted']);
    expect(new Set(a.map((e) => e.operationId))).toEqual(new Set([TRACE_ID]));
    const b = ofJob(jobB);
    expect(b.map((e) => e.name).sort()).toEqual(['DeliverySent', 'JobAccepted', 'Throttled']);
    const opB = b[0]!.operationId!;
    expect(opB).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(b.map((e) => e.operationId))).toEqual(new Set([opB]));
    expect(opB).not.toBe(TRACE_ID);

    for (const [jobId, op] of [
      [jobA, TRACE_ID],
      [jobB, opB],
    ] as const) {
      const spans = requests(ingestion.envelopes).filter((r) => r.operationId === op);
      const intake = spans.find((r) => r.name === 'Process notification job');
      const attempt = spans.find((r) => r.name === 'Deliver notification');
      expect(intake?.properties).toMatchObject({ jobId });
      expect(attempt?.properties).toMatchObject({ jobId, outcome: 'sent' });
      // Each delivery attempt is a child of the intake, and the connector calls are its children.
      expect(attempt?.parentId).toBe(intake?.id);
      const calls = dependencies(ingestion.envelopes).filter(
        (d) => d.operationId === op && (d.name === 'SendToConversation' || d.name === 'CreateConversation'),
      );
      expect(calls.length).toBeGreaterThanOrEqual(2);
      expect(calls.every((d) => d.parentId === attempt?.id)).toBe(true);
    }
    const enqueueA = dependencies(ingestion.envelopes).find(
      (d) => d.name === 'Enqueue notification job' && d.operationId === TRACE_ID,
    );
    expect(enqueueA?.type).toBe('Queue Message');
    const intakeA = requests(ingestion.envelopes).find(
      (r) => r.name === 'Process notification job' && r.operationId === TRACE_ID,
    );
    expect(intakeA?.parentId).toBe(enqueueA?.id);
  });

  it('reports failures, deactivation, poisoned messages, rejected jobs and the bot lifecycle', () => {
    const events = customEvents(ingestion.envelopes);
    const one = (name: string, jobId?: string) =>
      events.filter((e) => e.name === name && (jobId === undefined || e.properties.jobId === jobId));

    const failed = one('DeliveryFailed', jobBlocked);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.properties).toMatchObject({ tenantId: TENANT, reason: 'ConversationBlockedByUser' });
    expect(failed[0]?.properties.recipient).toMatch(/^upn#[\w-]{22}$/);
    const deactivated = one('RecipientDeactivated', jobBlocked);
    expect(deactivated).toHaveLength(1);
    expect(deactivated[0]?.properties).toMatchObject({ reason: 'ConversationBlockedByUser' });

    const poisoned = one('MessagePoisoned', jobPoisoned);
    expect(poisoned).toHaveLength(1);
    expect(poisoned[0]?.properties).toMatchObject({
      queue: 'notification-deliveries',
      poisonQueue: 'notification-deliveries-poison',
      tenantId: TENANT,
    });
    expect(poisoned[0]?.properties.reason).toBeTruthy();
    expect(one('DeliveryFailed', jobPoisoned)[0]?.properties.reason).toBeTruthy();

    const rejected = one('JobRejected').filter((e) => e.properties.source === 'http');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.properties.reason).toBe('SchemaInvalid');

    expect(one('BotInstalled')[0]?.properties).toMatchObject({ tenantId: TENANT, scope: 'personal' });
    expect(one('OptOut')[0]?.properties).toMatchObject({ tenantId: TENANT });
  });

  it('exports delivery metrics by tenant', () => {
    const outcomes = customMetrics(ingestion.envelopes, 'DeliveryOutcomes').filter(
      (m) => m.properties.tenantId === TENANT && m.properties.outcome === 'sent',
    );
    expect(outcomes.reduce((sum, m) => sum + m.value, 0)).toBe(2);
    const throttles = customMetrics(ingestion.envelopes, 'Throttles');
    expect(throttles.reduce((sum, m) => sum + m.value, 0)).toBe(1);
    const latency = customMetrics(ingestion.envelopes, 'DeliveryLatencyMs').filter(
      (m) => m.properties.tenantId === TENANT,
    );
    expect(latency.reduce((sum, m) => sum + (m.count ?? 1), 0)).toBe(2);
    const queueAge = customMetrics(ingestion.envelopes, 'QueueAgeMs');
    expect(new Set(queueAge.map((m) => m.properties.queue))).toEqual(
      new Set(['notification-jobs', 'notification-deliveries']),
    );
  });

  it('sends no message text and no raw user identifier', () => {
    expect(ingestion.bodies.length).toBeGreaterThan(0);
    const all = ingestion.bodies.join('\n').toLowerCase();
    for (const secret of ['secret-body-alpha', 'secret-body-bravo', ...raw]) {
      expect(all, secret).not.toContain(secret.toLowerCase());
    }
  });

  it('loads no telemetry SDK when APPLICATIONINSIGHTS_CONNECTION_STRING is unset', () => {
    // Loads the app's entry outside any host (its registrations are dropped) and lists what it loaded.
    const probe = (connectionString: string) => {
      const script = `
        import { createRequire } from 'node:module';
        await import(${JSON.stringify(path.join(ROOT, 'dist/functions/index.js'))});
        const cache = Object.keys(createRequire(import.meta.url).cache);
        console.log(JSON.stringify(cache.some((f) => f.includes('node_modules/applicationinsights/'))));`;
      const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString,
          APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true',
          TELEMETRY_LIVE_METRICS: 'false',
        },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(result.status, result.stderr).toBe(0);
      return JSON.parse(result.stdout.trim().split('\n').pop()!) as boolean;
    };
    expect(probe('')).toBe(false);
    expect(probe(ingestion.connectionString)).toBe(true);
  });
});
