import fc from 'fast-check';
import { MAX_RECIPIENTS } from '../../shared/jobs/contract.js';
import { TENANT } from './app.js';

/**
 * Fuzzing's inputs (issue 6): jobs as producers write them, valid, mutated or hostile, and odd
 * values to put anywhere. Set FUZZ_SEED to replay a failing run (the seed is in every message).
 */

export const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
export const RUNS = { pure: 400, queue: 80, http: 80, cli: 300, activities: 80 };
export const FOREIGN_TENANT = 'f00dbabe-0000-0000-0000-000000000000';
export const allowlist = { allowedTenantIds: new Set([TENANT]) };
export const POLLUTION_KEY = 'fuzzPolluted';

// --- Generators -------------------------------------------------------------------------------

const NOW = Date.now();
const isoAt = (minutes: number) => new Date(NOW + minutes * 60_000).toISOString();
const text = (maxLength: number) =>
  fc.oneof(fc.string({ minLength: 1, maxLength }), fc.string({ minLength: 1, maxLength, unit: 'grapheme' }));

export const recipient = fc.oneof(
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
export const validJob = fc
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
export const oddString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', '\u0000', '\uD800', '\u202E', '../..', "' or 1=1 --", '%00', '${x}', '<at>x</at>'),
);
export const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), oddString, hugeString);
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
export const jobBody = fc.oneof(
  { weight: 6, arbitrary: mutatedJobText },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null') },
  { weight: 1, arbitrary: oddString },
  { weight: 1, arbitrary: mutatedJobText.map((t) => t.slice(0, Math.floor(t.length / 2))) },
);

/** What reaches the handlers: UTF-8 on the wire (lone surrogates become U+FFFD). */
export const onTheWire = (body: string) => Buffer.from(body, 'utf8').toString('utf8');

/** The job's own ID, if it names one (otherwise the app generates one). */
export function explicitId(body: string): string | undefined {
  try {
    const id = (JSON.parse(onTheWire(body)) as { id?: unknown } | null)?.id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}
