import { randomBytes } from 'node:crypto';
import { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalHost } from '../../scripts/local-host/index.js';
import { startAzurite, type Azurite } from '../support/azurite.js';
import { fixtureEvents, logCollector, startFixtureHost, waitFor, type FixtureEvent } from './helpers.js';

/**
 * host.json `functionTimeout` as Azure enforces it: past it the language worker is restarted, which
 * stops every invocation running on it, and their messages come back after `visibilityTimeout`
 * (https://learn.microsoft.com/azure/azure-functions/functions-scale#timeout; Azure/azure-functions-host
 * issue #8720). fixture/host.json: functionTimeout 5 s, visibilityTimeout 1 s.
 */
const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
type Hang = FixtureEvent & { name: string; dequeueCount: number; id: string };

describe('local host: functionTimeout', () => {
  let azurite: Azurite;
  let host: LocalHost;
  let service: QueueServiceClient;
  const logs = logCollector();
  const events = fixtureEvents();
  const hang = (kind: 'hang-start' | 'hang-end', name: string) =>
    (events.read(kind) as Hang[]).filter((e) => e.name === name);

  beforeAll(async () => {
    azurite = await startAzurite();
    service = QueueServiceClient.fromConnectionString(azurite.connectionString);
    host = await startFixtureHost({
      azurite,
      eventsFile: events.file,
      log: logs.log,
      env: { JOBS_QUEUE: `jobs-${randomBytes(4).toString('hex')}` },
    });
  });

  afterAll(async () => {
    await host?.stop();
    await azurite?.stop();
  });

  it('restarts the worker past functionTimeout, failing every invocation on it; their messages come back after visibilityTimeout', async () => {
    const queue = service.getQueueClient('hang-jobs');
    await waitFor(() => queue.exists(), 'the hang-jobs queue');
    // "long" passes the 5 s timeout; "other" would finish 3 s later, on the same worker.
    await queue.sendMessage(base64(JSON.stringify({ name: 'long', firstMs: 60_000 })));
    await queue.sendMessage(base64(JSON.stringify({ name: 'other', firstMs: 8_000 })));
    const [longStart, otherStart] = await waitFor(
      () =>
        hang('hang-start', 'long').length > 0 &&
        hang('hang-start', 'other').length > 0 && [
          hang('hang-start', 'long')[0]!,
          hang('hang-start', 'other')[0]!,
        ],
      'both invocations to start',
    );
    expect(otherStart.pid).toBe(longStart.pid);

    // Both messages come back (dequeue count 2) and now finish, on a new worker process.
    const ends = await waitFor(
      () =>
        hang('hang-end', 'long').length > 0 &&
        hang('hang-end', 'other').length > 0 && [...hang('hang-end', 'long'), ...hang('hang-end', 'other')],
      'both messages to be handled again',
      30_000,
    );
    expect(ends.map((e) => [e.name, e.dequeueCount]).sort()).toEqual([
      ['long', 2],
      ['other', 2],
    ]);
    for (const end of ends) expect(end.pid).not.toBe(longStart.pid);
    // Neither first invocation ran to its end: "other" was stopped with the worker, before its 8 s.
    expect(events.read('hang-end').filter((e) => e.dequeueCount === 1)).toEqual([]);
    const secondStarts = events.read('hang-start').filter((e) => e.dequeueCount === 2);
    const timedOutAt = longStart.at + 5000;
    for (const start of secondStarts) {
      // Back after the 1 s visibilityTimeout (Azurite counts whole seconds).
      expect(start.at).toBeGreaterThanOrEqual(timedOutAt + 900);
      expect(start.at).toBeLessThan(otherStart.at + 8000);
    }
    expect(host.workerRestarts).toBe(1);
    expect(logs.records).toContainEqual(
      expect.objectContaining({
        level: 'error',
        functionName: 'hang',
        message: expect.stringMatching(/^Timeout value of 00:00:05 was exceeded by function 'hang'/),
      }),
    );
    // The host keeps serving, from the new worker.
    const res = await fetch(`${host.url}/api/items/7`);
    expect(await res.json()).toEqual({ id: '7', q: null });
    expect(events.read('appStart').map((e) => e.pid)).toContain(ends[0]!.pid);
  });

  it('a restart (restartWorker, SIGUSR2 to the entry) fails what runs on the worker: a request gets 500, a message comes back', async () => {
    const queue = service.getQueueClient('hang-jobs');
    const restarts = host.workerRestarts;
    await queue.sendMessage(base64(JSON.stringify({ name: 'again', firstMs: 60_000 })));
    await waitFor(() => hang('hang-start', 'again').length > 0, 'the invocation to start');
    const request = fetch(`${host.url}/api/sleep?ms=4000`);
    await new Promise((r) => setTimeout(r, 300));
    host.restartWorker('test');
    expect(host.workerRestarts).toBe(restarts + 1);
    const res = await request;
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('Internal Server Error');
    await waitFor(() => hang('hang-end', 'again').length > 0, 'the message to be handled again', 15_000);
    expect((await fetch(`${host.url}/api/sleep?ms=1`)).status).toBe(200);
  });
});
