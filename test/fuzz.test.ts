import { CommanderError } from 'commander';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOT_ID, FUNCTION_KEY, TENANT, eventually, startApp, type TestApp } from './support/app.js';
import { channelMessage, personalInstall, personalMessage, teamEvent } from './support/activities.js';
import { FAST_QUEUES, queueLength, visibleDeliveries } from './support/pipeline.js';
import { UsageError, parseNotifyArgs } from '../scripts/notify.js';
import {
  MAX_MESSAGE_BYTES,
  MAX_QUEUE_MESSAGE_BYTES,
  MAX_RECIPIENTS,
  messageBytes,
  toWireJob,
  validateJob,
  type ValidationResult,
} from '../shared/jobs/contract.js';
import { checkJob } from '../shared/jobs/intake.js';
import { encodeMessage } from '../shared/queues.js';
import { deliveryRowPrefix, userRow } from '../shared/azureStorage/conversationRows.js';

/**
 * Issue 6, fuzzing: random and mutated jobs against every entry point (the contract validator, the
 * queue function, POST /api/notifications, the CLI parser) and random or mutated activities against
 * POST /api/messages. Each input is either accepted whole or refused with a reason; the host stays up
 * and nothing half-valid is stored. Set FUZZ_SEED to replay a failing run (the seed is in every message).
 */

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = { pure: 400, queue: 80, http: 80, cli: 300, activities: 80 };
const FOREIGN_TENANT = 'f00dbabe-0000-0000-0000-000000000000';
const allowlist = { allowedTenantIds: new Set([TENANT]) };
const REASONS = [
  'InvalidJson',
  'SchemaInvalid',
  'CardInvalid',
  'MessageTooLarge',
  'JobTooLarge',
  'Expired',
  'TenantNotAllowed',
];
const POLLUTION_KEY = 'fuzzPolluted';

// --- Generators -------------------------------------------------------------------------------

const NOW = Date.now();
const isoAt = (minutes: number) => new Date(NOW + minutes * 60_000).toISOString();
const text = (maxLength: number) =>
  fc.oneof(fc.string({ minLength: 1, maxLength }), fc.string({ minLength: 1, maxLength, unit: 'grapheme' }));

const recipient = fc.oneof(
  fc
    .tuple(fc.stringMatching(/^[a-z][a-z0-9.]{0,15}$/), fc.constantFrom('contoso.com', 'fabrikam.com'))
    .map(([name, domain]) => ({ upn: `${name}@${domain}` })),
  fc.uuid().map((aadObjectId) => ({ aadObjectId })),
  fc.stringMatching(/^29:[A-Za-z0-9_-]{1,40}$/).map((userId) => ({ userId })),
);

const card = fc.record({
  type: fc.constant('AdaptiveCard'),
  version: fc.constantFrom('1.4', '1.5'),
  // A card must render something: at least one text block with visible text.
  body: fc.array(
    fc.record({ type: fc.constant('TextBlock'), text: text(100).filter((t) => t.trim() !== '') }),
    { minLength: 1, maxLength: 3 },
  ),
});

const message = fc
  .record({ text: text(300), card, summary: fc.string({ maxLength: 80 }) }, { requiredKeys: [] })
  .filter((m) => m.text !== undefined || m.card !== undefined);

/** Schedules: mostly open, sometimes a window ahead, sometimes already expired. */
const schedule = fc.oneof(
  fc.constant({}),
  fc
    .tuple(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 600 }))
    .map(([start, length]) => ({ notBefore: isoAt(start), expiresAt: isoAt(start + length) })),
  fc.constant({ expiresAt: '2020-01-01T00:00:00Z' }),
);

/** A job that is valid except, sometimes, for its tenant (upper case is still ours). */
const validJob = fc
  .record(
    {
      id: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,40}$/),
      tenantId: fc.constantFrom(TENANT, TENANT, TENANT, TENANT.toUpperCase(), FOREIGN_TENANT),
      recipients: fc.array(recipient, { minLength: 1, maxLength: 4 }),
      message,
      schedule,
    },
    { requiredKeys: ['tenantId', 'recipients', 'message', 'schedule'] },
  )
  .map(({ schedule: s, ...job }) => ({ ...job, ...s }) as Record<string, unknown>);

const hugeString = fc.constantFrom('x'.repeat(30_000), '€'.repeat(10_000), '\u{1F600}'.repeat(7_500));
const oddString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', '\u0000', '\uD800', '\u202E', '../..', "' or 1=1 --", '%00', '${x}', '<at>x</at>'),
);
const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), oddString, hugeString);
const dangerousKey = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  'serviceUrl',
  'toString',
  'hasOwnProperty',
);

/** Puts `key: value` first in the JSON object that starts at `at` (an own property, even "__proto__"). */
function insertKey(json: string, at: number, key: string, value: unknown): string {
  return `${json.slice(0, at + 1)}${JSON.stringify(key)}:${JSON.stringify(value) ?? 'null'},${json.slice(at + 1)}`;
}

/** JSON text of a valid job, mutated in one of the ways producers get jobs wrong (or attack them). */
const mutatedJobText = fc
  .tuple(
    validJob,
    fc.nat(),
    fc.oneof(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('none' as const) }) },
      fc.record({ kind: fc.constant('drop' as const) }),
      fc.record({ kind: fc.constant('replace' as const), value: anyValue }),
      fc.record({ kind: fc.constant('recipient' as const), value: anyValue }),
      fc.record({ kind: fc.constant('messageField' as const), value: anyValue }),
      fc.record({ kind: fc.constant('tooMany' as const) }),
      fc.record({
        kind: fc.constant('addKey' as const),
        where: fc.constantFrom('job', 'message'),
        key: fc.oneof(dangerousKey, fc.string({ maxLength: 10 })),
        value: fc.oneof(fc.constant({ [POLLUTION_KEY]: true }), anyValue),
      }),
    ),
  )
  .map(([job, pick, mutation]) => {
    const keys = Object.keys(job);
    const key = keys[pick % keys.length]!;
    switch (mutation.kind) {
      case 'drop':
        delete job[key];
        break;
      case 'replace':
        job[key] = mutation.value;
        break;
      case 'recipient':
        (job.recipients as unknown[])[0] = mutation.value;
        break;
      case 'messageField':
        (job.message as Record<string, unknown>)[['text', 'card', 'summary'][pick % 3]!] = mutation.value;
        break;
      case 'tooMany':
        job.recipients = Array.from({ length: MAX_RECIPIENTS + 1 }, (_, i) => ({ userId: `29:u${i}` }));
        break;
      case 'addKey': {
        const json = JSON.stringify(job);
        const at = mutation.where === 'job' ? 0 : json.indexOf('{', json.indexOf('"message":'));
        return insertKey(json, at, mutation.key, mutation.value);
      }
    }
    return JSON.stringify(job);
  });

/** Anything a producer might put on the queue or POST. */
const jobBody = fc.oneof(
  { weight: 6, arbitrary: mutatedJobText },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null') },
  { weight: 1, arbitrary: oddString },
  { weight: 1, arbitrary: mutatedJobText.map((t) => t.slice(0, Math.floor(t.length / 2))) },
);

/** What reaches the handlers: UTF-8 on the wire (lone surrogates become U+FFFD). */
const onTheWire = (body: string) => Buffer.from(body, 'utf8').toString('utf8');

/** The job's own ID, if it names one (otherwise the app generates one). */
function explicitId(body: string): string | undefined {
  try {
    const id = (JSON.parse(onTheWire(body)) as { id?: unknown } | null)?.id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

// --- Properties of the contract itself --------------------------------------------------------

function expectWellFormed(result: ValidationResult, input: unknown) {
  if (result.ok) {
    const { job } = result;
    expect(job.recipients.length).toBeGreaterThanOrEqual(1);
    expect(job.recipients.length).toBeLessThanOrEqual(MAX_RECIPIENTS);
    expect(new Set(job.recipients.map((r) => `${r.kind}:${r.value}`)).size).toBe(job.recipients.length);
    expect(messageBytes(job.message)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(job.tenantId).toBe(job.tenantId.toLowerCase());
    expect(job.id).toMatch(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/);
    // What a producer enqueues is accepted again as the same job.
    expect(validateJob(JSON.parse(JSON.stringify(toWireJob(job))))).toEqual({ ok: true, job });
  } else {
    expect(REASONS, JSON.stringify(input)?.slice(0, 200)).toContain(result.reason);
    expect(result.errors.length).toBeGreaterThan(0);
    for (const error of result.errors) expect(error.trim()).not.toBe('');
    if (result.jobId !== undefined) expect(result.jobId).toMatch(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/);
  }
}

describe('the job contract (validateJob)', () => {
  it('accepts every valid job for the allowed tenant, normalised, within the limits, and round-trips it', async () => {
    await fc.assert(
      fc.asyncProperty(validJob, async (job) => {
        const result = await checkJob(job, allowlist);
        if (job.expiresAt === '2020-01-01T00:00:00Z') {
          expect(result).toMatchObject({ ok: false, reason: 'Expired' });
        } else if (job.tenantId === FOREIGN_TENANT) {
          expect(result).toMatchObject({ ok: false, reason: 'TenantNotAllowed' });
        } else {
          expect(result.ok).toBe(true);
        }
        expectWellFormed(result, job);
      }),
      { seed: SEED, numRuns: RUNS.pure },
    );
  });

  it('never throws on anything, and answers either a well-formed job or a reason', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          jobBody,
          anyValue.map((v) => JSON.stringify(v) ?? ''),
        ),
        fc.boolean(),
        async (body, asText) => {
          let input: unknown = body;
          if (!asText) {
            try {
              input = JSON.parse(body);
            } catch {
              input = body;
            }
          }
          const result = asText ? await checkJob(body, allowlist) : validateJob(input);
          expectWellFormed(result, input);
          expect(({} as Record<string, unknown>)[POLLUTION_KEY]).toBeUndefined();
        },
      ),
      { seed: SEED, numRuns: RUNS.pure },
    );
  });
});

describe('the CLI parser (parseNotifyArgs)', () => {
  const option = fc.constantFrom(
    '--to',
    '--text',
    '--summary',
    '--tenant',
    '--id',
    '--not-before',
    '--expires-at',
    '--card',
    '--unknown',
    '-x',
    '--',
  );
  const value = fc.oneof(
    oddString,
    recipient.map((r) => Object.values(r)[0]!),
    fc.constantFrom(TENANT, '/nonexistent/card.json', '.'),
  );
  const argv = fc.array(fc.oneof(option, value), { maxLength: 12 });

  it('returns a job or throws a usage error with a message, for any argv', () => {
    fc.assert(
      fc.property(argv, fc.option(fc.constantFrom(TENANT, '', 'not a tenant')), (args, defaultTenant) => {
        let job;
        try {
          job = parseNotifyArgs(args, { DEFAULT_TENANT_ID: defaultTenant ?? undefined });
        } catch (err) {
          const known =
            err instanceof UsageError || (err instanceof CommanderError && err.code.startsWith('commander.'));
          expect(known, `${String(err)} for ${JSON.stringify(args)}`).toBe(true);
          expect((err as Error).message.trim()).not.toBe('');
          return;
        }
        // What the CLI then sends goes through the same contract: either a job or a reason.
        expectWellFormed(validateJob(job), job);
      }),
      { seed: SEED, numRuns: RUNS.cli },
    );
  });
});

// --- The running app ---------------------------------------------------------------------------

let app: TestApp;

beforeAll(async () => {
  app = await startApp({
    env: {
      ...FAST_QUEUES,
      ALLOWED_TENANT_IDS: TENANT,
      // Deliveries stay on their queue, so it can be counted: the fan-out is what the job function wrote.
      'AzureWebJobs.notificationDeliveries.Disabled': 'true',
    },
  });
});

afterAll(async () => {
  await app?.stop();
});

async function rows(table: string): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  try {
    for await (const row of app.table(table).listEntities<Record<string, unknown>>()) out.push(row);
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
  }
  return out;
}

async function hostIsUp() {
  expect((await fetch(`${app.url}/`)).status).toBe(200);
}

describe('the queue function (notification-jobs)', () => {
  it('accepts exactly the valid jobs and sets every other message aside with a reason, storing nothing half-valid', async () => {
    const bodies = fc.sample(jobBody, { seed: SEED, numRuns: RUNS.queue });
    const queue = app.queue('notification-jobs');
    await queue.createIfNotExists();
    // Job IDs the batch accepts must be unique, or a reused ID would (rightly) be a DuplicateJobId.
    const acceptedIds = new Set<string>();
    const sent: Array<{ messageId: string; body: string; expected: ValidationResult }> = [];
    for (const body of bodies) {
      const expected = await checkJob(onTheWire(body), allowlist);
      if (expected.ok && acceptedIds.has(expected.job.id)) continue;
      if (expected.ok) acceptedIds.add(expected.job.id);
      const encoded = Buffer.from(body, 'utf8').toString('base64');
      if (encoded.length > MAX_QUEUE_MESSAGE_BYTES) continue;
      const { messageId } = await queue.sendMessage(encoded);
      sent.push({ messageId, body, expected });
    }
    // And a few as other producers write them: plain text, read as such (host.json messageEncoding "none").
    const plain: Array<[string, string]> = [
      ['{"tenantId": "x"}', 'SchemaInvalid'],
      ['not base64 at all!', 'InvalidJson'],
      ['%%%%', 'InvalidJson'],
    ];
    const plainIds: Array<[string, string]> = [];
    for (const [raw, reason] of plain) plainIds.push([(await queue.sendMessage(raw)).messageId, reason]);

    const accepted = sent.filter((s) => s.expected.ok);
    // Both outcomes occur in every batch, or the run proves little.
    expect(accepted.length, `seed ${SEED}`).toBeGreaterThan(0);
    expect(accepted.length, `seed ${SEED}`).toBeLessThan(sent.length);
    const byMessage = await eventually(
      async () => {
        const rejected = new Map((await rows('RejectedJobs')).map((r) => [String(r.queueMessageId), r]));
        const all = await rows('Jobs');
        // Each accepted job also has its `content` row (revision 0), checked below.
        const jobs = all.filter((r) => r.rowKey === 'job');
        const contents = all.filter((r) => r.rowKey === 'content');
        // A Jobs row is written before its fan-out and marked when that is done; wait for the mark.
        const fannedOut = jobs.filter((j) => j.fannedOutAt).length;
        const done = fannedOut + sent.filter((s) => rejected.has(s.messageId)).length;
        return done >= sent.length && plainIds.every(([id]) => rejected.has(id))
          ? { rejected, jobs, contents }
          : undefined;
      },
      60_000,
      `all ${sent.length} messages settled (seed ${SEED})`,
    );

    for (const { messageId, body, expected } of sent) {
      const row = byMessage.rejected.get(messageId);
      const what = `${body.slice(0, 300)} (seed ${SEED})`;
      if (expected.ok) {
        expect(row, what).toBeUndefined();
        if (explicitId(body))
          expect(
            byMessage.jobs.some((j) => j.jobId === expected.job.id),
            what,
          ).toBe(true);
      } else {
        expect(row, what).toBeDefined();
        expect(row!.reason, what).toBe(expected.reason);
        expect(JSON.parse(String(row!.errors)).length, what).toBeGreaterThan(0);
        expect(row!.source).toBe('queue');
      }
    }
    // Nothing half-valid: one Jobs row per accepted job, each complete and fanned out, and exactly its
    // recipients' deliveries on the queue.
    expect(byMessage.jobs.length, `seed ${SEED}`).toBe(accepted.length);
    // And one content row per accepted job, with the job's tenant and revision 0, none for a rejected one.
    expect(byMessage.contents.map((c) => c.partitionKey).sort(), `seed ${SEED}`).toEqual(
      byMessage.jobs.map((j) => j.partitionKey).sort(),
    );
    for (const c of byMessage.contents) expect([c.tenantId, c.revision]).toEqual([TENANT, 0]);
    for (const job of byMessage.jobs) {
      expect(job.fannedOutAt, `seed ${SEED}`).toBeTruthy();
      expect(job.tenantId).toBe(TENANT);
      expect(typeof job.contentHash).toBe('string');
    }
    // Each accepted job's recipients on the deliveries queue, once each (several to a message). A job
    // given no ID gets the app's own, so recipients are matched without it. Jobs whose notBefore lies
    // ahead wait invisible on the queue: counted when sure to stay so while the queue is read.
    const counts = (keys: string[]) => {
      const m = new Map<string, number>();
      for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
      return m;
    };
    const now = Date.now();
    const jobs = accepted.flatMap(({ expected }) => (expected.ok ? [expected.job] : []));
    const keysOf = (list: typeof jobs) =>
      list.flatMap((j) => j.recipients.map((r) => `${r.kind}:${r.value}`));
    const ahead = (j: (typeof jobs)[number], ms: number) =>
      !!j.notBefore && Date.parse(j.notBefore) > now + ms;
    const all = counts(keysOf(jobs));
    const due = counts(keysOf(jobs.filter((j) => !ahead(j, 0))));
    const waiting = jobs.filter((j) => ahead(j, 60_000));
    const visible = await visibleDeliveries(app);
    const queued = counts(visible.deliveries.map((d) => d.recipient));
    for (const [key, n] of due)
      expect(queued.get(key) ?? 0, `${key} (seed ${SEED})`).toBeGreaterThanOrEqual(n);
    for (const [key, n] of queued) expect(n, `${key} (seed ${SEED})`).toBeLessThanOrEqual(all.get(key) ?? 0);
    expect(await queueLength(app, 'notification-deliveries')).toBeGreaterThanOrEqual(
      visible.messages + waiting.length,
    );
    for (const [id, reason] of plainIds) expect(byMessage.rejected.get(id)?.reason).toBe(reason);
    expect(await queueLength(app, 'notification-jobs-poison')).toBe(0);
    expect(({} as Record<string, unknown>)[POLLUTION_KEY]).toBeUndefined();
    await hostIsUp();
  });
});

describe('POST /api/notifications', () => {
  const contentType = fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    '',
  );

  it('answers 202 only for a valid job, 403 for another tenant, otherwise 400 with the errors; never 5xx', async () => {
    const requests = fc.sample(fc.tuple(jobBody, contentType), { seed: SEED + 1, numRuns: RUNS.http });
    const results = [];
    for (const [body, type] of requests) {
      const headers: Record<string, string> = { 'x-functions-key': FUNCTION_KEY };
      if (type) headers['content-type'] = type;
      const res = await fetch(`${app.url}/api/notifications`, { method: 'POST', headers, body });
      results.push({
        body,
        status: res.status,
        json: (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined,
      });
    }
    expect(results.filter((r) => r.status === 202).length, `seed ${SEED}`).toBeGreaterThan(0);
    expect(results.filter((r) => r.status === 400).length, `seed ${SEED}`).toBeGreaterThan(0);
    for (const { body, status, json } of results) {
      const what = `${body.slice(0, 300)} (seed ${SEED})`;
      const expected = await checkJob(onTheWire(body), allowlist);
      if (status === 409) {
        // A valid job whose ID an earlier job (this test's or the queue test's) was accepted with.
        expect(json?.error, what).toBe('DuplicateJobId');
        expect(expected.ok, what).toBe(true);
        const id = expected.ok ? expected.job.id : '';
        const earlier = await app.get(`notifications/${encodeURIComponent(id)}`, {
          'x-functions-key': FUNCTION_KEY,
        });
        expect(earlier.status, what).toBe(200);
        expect(((await earlier.json()) as { rejected?: boolean }).rejected, what).toBeUndefined();
        continue;
      }
      if (
        expected.ok &&
        Buffer.byteLength(encodeMessage(toWireJob(expected.job))) <= MAX_QUEUE_MESSAGE_BYTES
      ) {
        expect(status, what).toBe(202);
        if (explicitId(body)) expect(json?.jobId, what).toBe(expected.job.id);
        else expect(json?.jobId, what).toMatch(/^[0-9a-f-]{36}$/);
      } else {
        expect(status, what).toBe(!expected.ok && expected.reason === 'TenantNotAllowed' ? 403 : 400);
        expect(json?.error, what).toBe(expected.ok ? 'JobTooLarge' : expected.reason);
        expect((json?.errors as string[]).length, what).toBeGreaterThan(0);
      }
    }
    await hostIsUp();
  });
});

describe('POST /api/messages', () => {
  const chat = 'a:fuzz-personal';
  const user = { id: '29:fuzz-user', name: 'Fuzz User', aadObjectId: 'aad-fuzz' };

  /** A valid activity of each kind the bot handles, from the fake connector's service URL. */
  const activity = fc.constantFrom(
    () => personalInstall(app.connector.url, user, chat),
    () => personalMessage(app.connector.url, user, chat, 'help'),
    () =>
      teamEvent(app.connector.url, 'team-fuzz', user, {
        eventType: 'teamMemberAdded',
        membersAdded: [{ id: BOT_ID }],
      }),
    () =>
      teamEvent(app.connector.url, 'team-fuzz', user, {
        eventType: 'teamMemberAdded',
        membersAdded: [{ id: '29:fuzz-2' }],
      }),
    () =>
      teamEvent(app.connector.url, 'team-fuzz', user, {
        eventType: 'teamMemberRemoved',
        membersRemoved: [{ id: '29:fuzz-2' }],
      }),
    () =>
      channelMessage(app.connector.url, 'team-fuzz', user, '<at>Bot</at> tell <at>Fuzz 2</at> hi', [
        { id: BOT_ID, name: 'Bot' },
        { id: '29:fuzz-2', name: 'Fuzz 2' },
      ]),
  );
  const field = fc.constantFrom(
    'type',
    'id',
    'from',
    'recipient',
    'conversation',
    'channelData',
    'channelId',
    'text',
    'membersAdded',
    'membersRemoved',
    'entities',
    'action',
    'timestamp',
  );
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('none' as const) }),
    fc.record({ kind: fc.constant('drop' as const), field }),
    fc.record({ kind: fc.constant('replace' as const), field, value: fc.oneof(anyValue, fc.constant(null)) }),
    fc.record({
      kind: fc.constant('type' as const),
      value: fc.constantFrom(
        'message',
        'conversationUpdate',
        'installationUpdate',
        'invoke',
        'messageReaction',
        'event',
        'endOfConversation',
        'x',
      ),
    }),
    fc.record({
      kind: fc.constant('nested' as const),
      path: fc.constantFrom(
        'conversation.conversationType',
        'conversation.id',
        'from.id',
        'from.aadObjectId',
        'channelData.tenant',
        'channelData.team',
        'channelData.eventType',
        'recipient.id',
      ),
      value: fc.oneof(anyValue, fc.constantFrom('personal', 'channel', 'groupChat', TENANT)),
    }),
    fc.record({
      kind: fc.constant('serviceUrl' as const),
      value: fc.constantFrom(undefined, 42, '', 'not a url', 'ftp://example.com/'),
    }),
  );
  const body = fc.oneof(
    { weight: 8, arbitrary: fc.tuple(activity, mutation) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: oddString },
  );

  function build([make, m]: [
    () => Record<string, unknown>,
    { kind: string; field?: string; path?: string; value?: unknown },
  ]) {
    const a = make() as Record<string, unknown>;
    if (m.kind === 'drop') delete a[m.field!];
    if (m.kind === 'replace') a[m.field!] = m.value;
    if (m.kind === 'type') a.type = m.value;
    if (m.kind === 'serviceUrl') a.serviceUrl = m.value;
    if (m.kind === 'nested') {
      const [outer, inner] = m.path!.split('.') as [string, string];
      const parent = (a[outer] ?? {}) as Record<string, unknown>;
      a[outer] = { ...parent, [inner]: m.value };
    }
    return JSON.stringify(a);
  }

  it('answers 200 or a 4xx with a reason to any activity, never 5xx, and stores only whole records in the allowed tenant', async () => {
    app.connector.registerConversation(chat, { tenantId: TENANT, members: [user] });
    app.connector.registerConversation('team-fuzz;messageid=1', { tenantId: TENANT });
    app.connector.setRoster('team-fuzz', [
      { id: user.id, name: user.name, objectId: user.aadObjectId, userRole: 'user' },
      { id: '29:fuzz-2', name: 'Fuzz 2', userRole: 'user' },
    ]);
    const samples = fc.sample(body, { seed: SEED + 2, numRuns: RUNS.activities });
    const violations: string[] = [];
    let dependencyFailures = 0;
    for (const sample of samples) {
      const text = typeof sample === 'string' ? sample : build(sample);
      const calls = app.connector.calls.length;
      const res = await app.post('messages', text);
      // A 5xx is right only when Teams itself refused a call of this turn (Teams then retries).
      const teamsRefused = app.connector.calls.slice(calls).some((c) => c.status >= 400);
      if (res.status === 500 && teamsRefused) dependencyFailures += 1;
      const json = (await res.json().catch(() => undefined)) as { error?: unknown } | undefined;
      const reasoned = res.status < 400 || (typeof json?.error === 'string' && json.error.length > 0);
      // 501 is botbuilder's standard answer to an invoke activity (the bot implements none).
      const allowed = [
        200,
        400,
        403,
        413,
        ...(/"type":"invoke"/.test(text) ? [501] : []),
        ...(teamsRefused ? [500] : []),
      ];
      if (!allowed.includes(res.status) || !reasoned) {
        violations.push(
          `${res.status} ${JSON.stringify(json)} for ${text.slice(0, 2000)} LOG ${app.logs.filter((l) => l.level === 'error').at(-1)?.message}`,
        );
      }
    }
    expect(violations, `seed ${SEED}`).toEqual([]);
    // Mutations seldom reach a conversation Teams does not know; most answers must not be such failures.
    expect(dependencyFailures, `seed ${SEED}`).toBeLessThan(samples.length / 4);

    // Nothing refused is stored, and nothing stored is half a record.
    const stored = await rows('Conversations');
    const users = new Set<string>();
    for (const row of stored) {
      const what = `${JSON.stringify(row)} (seed ${SEED})`;
      expect(row.partitionKey, what).toBe(TENANT);
      const rowKey = String(row.rowKey);
      if (rowKey.startsWith('user|')) {
        expect(typeof row.userId === 'string' && row.userId.length > 0, what).toBe(true);
        expect(rowKey, what).toBe(userRow(String(row.userId)));
        expect(typeof row.serviceUrl === 'string' && row.serviceUrl.length > 0, what).toBe(true);
        expect(Array.isArray(JSON.parse(String(row.sources))), what).toBe(true);
        users.add(String(row.userId));
      } else if (rowKey === 'tenant') {
        expect(
          typeof row.serviceUrl === 'string' && typeof row.botId === 'string' && row.botId.length > 0,
          what,
        ).toBe(true);
      } else if (rowKey.startsWith('team|')) {
        expect(typeof row.installed, what).toBe('boolean');
        expect(typeof row.serviceUrl, what).toBe('string');
      } else if (rowKey.startsWith('member|')) {
        expect(typeof row.userId === 'string' && typeof row.teamId === 'string', what).toBe(true);
      } else if (rowKey.startsWith('chat|')) {
        // A sent message's index row (read receipts, card presses) names its delivery.
        expect(typeof row.jobId === 'string' && typeof row.activityId === 'string', what).toBe(true);
        expect(
          stored.some((r) => String(r.rowKey).startsWith(deliveryRowPrefix(String(row.jobId)))),
          what,
        ).toBe(true);
      } else if (!/^(aad|upn|dlv|person)\|/.test(rowKey)) {
        throw new Error(`unexpected row ${what}`);
      }
    }
    for (const row of stored.filter((r) => /^(aad|upn)\|/.test(String(r.rowKey)))) {
      expect(
        users.has(String(row.userId)),
        `alias without its user: ${JSON.stringify(row)} (seed ${SEED})`,
      ).toBe(true);
    }
    expect(({} as Record<string, unknown>)[POLLUTION_KEY]).toBeUndefined();
    await hostIsUp();
  });
});

describe('what fuzzing found (kept as plain regressions)', () => {
  it('a rejected job with a huge or odd ID is still set aside with its reason', async () => {
    const queue = app.queue('notification-jobs');
    const ids = ['x'.repeat(40_000), '\u{1F600}'.repeat(5_000), 'bad id with spaces'];
    const sent: string[] = [];
    for (const id of ids) {
      const job = { id, tenantId: TENANT, recipients: [], message: { text: 'hi' } };
      sent.push((await queue.sendMessage(Buffer.from(JSON.stringify(job)).toString('base64'))).messageId);
    }
    const found = await eventually(async () => {
      const byId = new Map((await rows('RejectedJobs')).map((r) => [String(r.queueMessageId), r]));
      return sent.every((m) => byId.has(m)) ? sent.map((m) => byId.get(m)!) : undefined;
    });
    for (const row of found) expect(row).toMatchObject({ reason: 'SchemaInvalid', jobId: '' });
  });

  it('answers 400 with the reason to activities missing what the bot reads, and 501 to an invoke it does not implement', async () => {
    const chat = 'a:fuzz-regression';
    const user = { id: '29:fuzz-regression', name: 'R' };
    const good = () => personalMessage(app.connector.url, user, chat, 'help') as Record<string, unknown>;
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['a non-string service URL (was 401)', { ...good(), serviceUrl: 42 }, /serviceUrl/],
      ['no service URL (was a 10 s stall, then 500)', { ...good(), serviceUrl: undefined }, /serviceUrl/],
      ['no sender (was 500)', { ...good(), from: undefined }, /activity\.from/],
      ['a sender without an ID (was 500)', { ...good(), from: { name: 'x' } }, /activity\.from\.id/],
      [
        'an unencodable conversation ID (was 500)',
        { ...good(), conversation: { id: '\uD800', conversationType: 'personal' } },
        /conversation\.id/,
      ],
      [
        'a non-ASCII conversation ID (was 500)',
        { ...good(), conversation: { id: 'ä', conversationType: 'personal' } },
        /conversation\.id/,
      ],
      ['an activity ID too long for a key (was 500)', { ...good(), id: '€'.repeat(10_000) }, /activity\.id/],
      [
        'a member that is not an account (was 500)',
        { ...good(), type: 'conversationUpdate', membersAdded: [null] },
        /membersAdded\[0\]/,
      ],
      [
        'a numeric tenant ID (was 500)',
        { ...good(), channelData: { tenant: { id: 7 } } },
        /channelData\.tenant\.id/,
      ],
      ['a channel ID that is not a string (was 500)', { ...good(), channelId: [1] }, /activity\.channelId/],
    ];
    for (const [what, activity, reason] of cases) {
      const res = await app.post('messages', activity);
      expect(res.status, what).toBe(400);
      expect(((await res.json()) as { error: string }).error, what).toMatch(reason);
    }
    const untyped = await app.post('messages', { ...good(), type: '' });
    expect(untyped.status).toBe(400);
    expect(await untyped.json()).toEqual({ error: 'activity.type is required' });
    // A message extension's query: the app declares none (card invokes get 200, test/card-invokes.test.ts).
    const invoke = await app.post('messages', { ...good(), type: 'invoke', name: 'composeExtension/query' });
    expect(invoke.status).toBe(501);
    expect(await invoke.json()).toEqual({ error: 'the bot does not handle invoke activities' });
    // adaptiveCard/action is always answered 200; without an Action.Execute, with a Universal Actions error.
    const cardAction = await app.post('messages', { ...good(), type: 'invoke', name: 'adaptiveCard/action' });
    expect(cardAction.status).toBe(200);
    expect(await cardAction.json()).toMatchObject({
      statusCode: 400,
      type: 'application/vnd.microsoft.error',
    });
    expect(app.logs.some((l) => l.level === 'error' && /activity invoke failed/.test(l.message))).toBe(false);
  });
});
