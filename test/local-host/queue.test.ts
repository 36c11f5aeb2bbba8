import { randomBytes } from 'node:crypto';
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalHost } from '../../scripts/local-host/index.js';
import { startAzurite, type Azurite } from '../support/azurite.js';
import { fixtureEvents, logCollector, startFixtureHost, waitFor, type FixtureEvent } from './helpers.js';

// fixture/host.json: batchSize 4, newBatchThreshold 2, visibilityTimeout 1 s, maxDequeueCount 3.
const BATCH_SIZE = 4;
const NEW_BATCH_THRESHOLD = 2;
const MAX_DEQUEUE_COUNT = 3;

const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

describe('local host: storage queue triggers', () => {
  let azurite: Azurite;
  let host: LocalHost;
  let service: QueueServiceClient;
  const jobsQueue = `jobs-${randomBytes(4).toString('hex')}`;
  const logs = logCollector();
  const events = fixtureEvents();
  type Job = FixtureEvent & { message: unknown; triggerMetadata: Record<string, unknown> };
  const jobs = () => events.read('job') as Job[];

  const queue = (name: string): QueueClient => service.getQueueClient(name);
  const count = async (name: string): Promise<number> => {
    const q = queue(name);
    if (!(await q.exists())) return 0;
    return (await q.getProperties()).approximateMessagesCount ?? 0;
  };

  beforeAll(async () => {
    azurite = await startAzurite();
    service = QueueServiceClient.fromConnectionString(azurite.connectionString);
    host = await startFixtureHost({
      azurite,
      eventsFile: events.file,
      log: logs.log,
      env: { JOBS_QUEUE: jobsQueue, 'AzureWebJobs.hang.Disabled': 'true' },
    });
    // The host creates the trigger queues itself.
    await waitFor(
      async () => (await queue(jobsQueue).exists()) && (await queue('slow-jobs').exists()),
      'queues',
    );
  });

  afterAll(async () => {
    await host?.stop();
    await azurite?.stop();
  });

  it('resolves %SETTING% queue names and lists queue functions', () => {
    expect(host.functions.find((f) => f.name === 'jobs')).toEqual({
      name: 'jobs',
      trigger: 'queue',
      queueName: jobsQueue,
      connection: 'AzureWebJobsStorage',
    });
  });

  it('decodes base64 JSON messages into objects, with trigger metadata, and deletes them', async () => {
    const payload = { userId: 'u1', text: 'héllo' };
    const sent = await queue(jobsQueue).sendMessage(base64(JSON.stringify(payload)));
    await queue(jobsQueue).sendMessage(base64('just text'));

    const received = await waitFor(() => jobs().length >= 2 && jobs(), 'two jobs');
    const json = received.find((j) => j.triggerMetadata.id === sent.messageId);
    expect(json?.message).toEqual(payload);
    expect(json?.triggerMetadata).toMatchObject({
      dequeueCount: 1,
      queueTrigger: JSON.stringify(payload),
      popReceipt: expect.any(String),
      insertionTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      expirationTime: expect.any(String),
      nextVisibleTime: expect.any(String),
    });
    expect(received.find((j) => j.triggerMetadata.id !== sent.messageId)?.message).toBe('just text');
    await waitFor(async () => (await count(jobsQueue)) === 0, 'processed messages deleted');
  });

  it('hands over what the Storage extension would: a BOM kept (so the text stays a string), invalid UTF-8 as U+FFFD', async () => {
    const before = jobs().length;
    const bom = await queue(jobsQueue).sendMessage(base64('\uFEFF{"a":1}'));
    const bad = await queue(jobsQueue).sendMessage(Buffer.from([0x7b, 0xff, 0x7d]).toString('base64'));
    const received = await waitFor(() => jobs().length >= before + 2 && jobs(), 'two more jobs');
    const byId = (id: string) => received.find((j) => j.triggerMetadata.id === id);
    expect(byId(bom.messageId)?.message).toBe('\uFEFF{"a":1}');
    expect(byId(bom.messageId)?.triggerMetadata.queueTrigger).toBe('\uFEFF{"a":1}');
    expect(byId(bad.messageId)?.message).toBe('{\uFFFD}');
  });

  it('moves a message that is not valid base64 straight to the poison queue', async () => {
    const before = jobs().length;
    await queue(jobsQueue).sendMessage('not base64!');
    await waitFor(async () => (await count(`${jobsQueue}-poison`)) === 1, 'poison message');
    const [poison] = (await queue(`${jobsQueue}-poison`).peekMessages()).peekedMessageItems;
    expect(poison?.messageText).toBe('not base64!');
    expect(jobs().length).toBe(before);
  });

  it('retries a failing message after visibilityTimeout, then poisons it after maxDequeueCount attempts', async () => {
    const text = base64(JSON.stringify({ fail: true }));
    await queue('failing-jobs').sendMessage(text);

    await waitFor(
      async () => (await count('failing-jobs-poison')) === 1,
      'message in failing-jobs-poison',
      15_000,
    );
    const attempts = events.read('attempt');
    expect(attempts).toHaveLength(MAX_DEQUEUE_COUNT);
    expect(attempts.map((a) => a.dequeueCount)).toEqual([1, 2, 3]);
    expect(attempts[0]?.message).toEqual({ fail: true });
    for (let i = 1; i < attempts.length; i++) {
      // visibilityTimeout is 1 s (Azurite counts whole seconds).
      expect(attempts[i]!.at - attempts[i - 1]!.at).toBeGreaterThanOrEqual(900);
    }
    const [poison] = (await queue('failing-jobs-poison').peekMessages()).peekedMessageItems;
    expect(poison?.messageText).toBe(text); // same encoding as the original
    expect(await count('failing-jobs')).toBe(0);
    expect(
      logs.records.some((r) => r.functionName === 'failing' && /MaxDequeueCount of 3/.test(r.message)),
    ).toBe(true);
  });

  it('keeps at most batchSize + newBatchThreshold invocations in flight', async () => {
    const total = 20;
    await Promise.all(
      Array.from({ length: total }, (_, i) => queue('slow-jobs').sendMessage(base64(`job ${i}`))),
    );
    await waitFor(() => events.read('slow-end').length === total, 'slow jobs done', 20_000);
    // Most invocations running at once: +1 at each start, -1 at each end, in time order.
    const steps = events
      .read()
      .filter((e) => e.kind === 'slow-start' || e.kind === 'slow-end')
      .map((e) => ({ at: e.at, step: e.kind === 'slow-start' ? 1 : -1 }))
      .sort((a, b) => a.at - b.at || a.step - b.step);
    let running = 0;
    let max = 0;
    for (const { step } of steps) max = Math.max(max, (running += step));
    expect(max).toBeLessThanOrEqual(BATCH_SIZE + NEW_BATCH_THRESHOLD);
    expect(max).toBeGreaterThanOrEqual(BATCH_SIZE);
  });
});
