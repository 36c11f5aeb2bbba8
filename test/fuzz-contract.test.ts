import { CommanderError } from 'commander';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TENANT } from './support/app.js';
import {
  FOREIGN_TENANT,
  POLLUTION_KEY,
  RUNS,
  SEED,
  allowlist,
  anyValue,
  jobBody,
  oddString,
  recipient,
  validJob,
} from './support/fuzzJobs.js';
import { UsageError, parseNotifyArgs } from '../scripts/notify.js';
import {
  MAX_MESSAGE_BYTES,
  MAX_RECIPIENTS,
  messageBytes,
  toWireJob,
  validateJob,
  type ValidationResult,
} from '../shared/jobs/contract.js';
import { checkJob } from '../shared/jobs/intake.js';

/**
 * Issue 6, fuzzing the job contract in process: random and mutated jobs against the contract
 * validator and random argv against the CLI parser. Each input is either accepted whole, normalised
 * and within the limits, or refused with a reason. The running app's entry points are fuzzed in
 * fuzz-jobs.test.ts and fuzz-activities.test.ts; the generators are in support/fuzzJobs.ts.
 */

const REASONS = [
  'InvalidJson',
  'SchemaInvalid',
  'CardInvalid',
  'MessageTooLarge',
  'JobTooLarge',
  'Expired',
  'TenantNotAllowed',
];

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
