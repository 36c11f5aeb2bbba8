import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FUNCTION_KEY, TENANT, eventually, type TestApp } from './support/app.js';
import { useFuzzApp } from './support/fuzzApp.js';
import { POLLUTION_KEY, RUNS, SEED, allowlist, explicitId, jobBody, onTheWire } from './support/fuzzJobs.js';
import { queueLength, visibleDeliveries } from './support/pipeline.js';
import { MAX_QUEUE_MESSAGE_BYTES, toWireJob, type ValidationResult } from '../shared/jobs/contract.js';
import { checkJob } from '../shared/jobs/intake.js';
import { encodeMessage } from '../shared/queues.js';

/**
 * Issue 6, fuzzing the app's job entry points: random and mutated jobs on the queue function and
 * POST /api/notifications. Each is either accepted whole or refused with a reason; the host stays
 * up and nothing half-valid is stored. Set FUZZ_SEED to replay a failing run (the seed is in every
 * message).
 */

let app: TestApp;
const { rows, hostIsUp } = useFuzzApp((started) => (app = started));

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
});
