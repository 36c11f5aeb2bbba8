import { beforeEach, describe, expect, it } from 'vitest';
import { recordWithoutClaim } from '../shared/stores/deliveryRecords.js';
import type { BotConnector, ConnectorResult } from '../shared/delivery/connector.js';
import { DeliveryRateLimiter } from '../shared/delivery/rateLimiter.js';
import { ChangeService } from '../shared/followUps/changeService.js';
import type { ChangeTask } from '../shared/followUps/changeTask.js';
import { sendHooks } from '../shared/followUps/sendHooks.js';
import { CONTENT_TTL_MS, ContentCache } from '../shared/followUps/contentCache.js';
import { MemoryFollowUpStore, MemoryJobContentStore } from './support/memoryFollowUps.js';
import { MemoryConversationStore, MemoryDeliveryRecordStore } from './support/memoryStores.js';
import { setTelemetry, telemetry, type Telemetry } from '../shared/telemetry/telemetry.js';

/** The change service and the send hooks on the in-memory twins: no Azurite, a scripted connector. */

const TENANT = 't1';
const JOB = 'job-1';

class Connector implements BotConnector {
  readonly calls: Array<{ op: string; activityId: string; body?: unknown }> = [];
  answers: Array<ConnectorResult<unknown>> = [];
  async createConversation() {
    return { ok: true as const, status: 201, body: { id: 'a:1' } };
  }
  async sendToConversation() {
    return { ok: true as const, status: 201, body: { id: '1' } };
  }
  async updateActivity(_: string, __: string, activityId: string, body: Record<string, unknown>) {
    this.calls.push({ op: 'update', activityId, body });
    return (this.answers.shift() ?? { ok: true, status: 200, body: {} }) as ConnectorResult<{ id?: string }>;
  }
  async deleteActivity(_: string, __: string, activityId: string) {
    this.calls.push({ op: 'delete', activityId });
    return this.answers.shift() ?? { ok: true, status: 200, body: {} };
  }
}

let records: MemoryDeliveryRecordStore;
let contents: MemoryJobContentStore;
let followUps: MemoryFollowUpStore;
let connector: Connector;
let service: ChangeService;

beforeEach(async () => {
  const conversations = new MemoryConversationStore();
  records = new MemoryDeliveryRecordStore(conversations);
  contents = new MemoryJobContentStore();
  followUps = new MemoryFollowUpStore(records);
  connector = new Connector();
  service = new ChangeService({
    records,
    followUps,
    contents,
    conversations,
    connector,
    limiter: new DeliveryRateLimiter({ tenantPerSecond: 1000, conversationPerSecond: 100 }),
    defaultServiceUrl: 'https://smba.trafficmanager.net/teams/',
  });
  await contents.ensure({ jobId: JOB, tenantId: TENANT, message: { text: 'v1' } });
  await recordWithoutClaim(records, TENANT, JOB, 'userId:29:a', {
    status: 'sent',
    userId: '29:a',
    conversationId: 'a:1',
    activityId: '1700000000000',
    revision: 0,
  });
});

const task = (op: 'update' | 'recall', recipient = 'userId:29:a'): ChangeTask => ({
  v: 1,
  kind: 'change',
  op,
  jobId: JOB,
  tenantId: TENANT,
  recipient,
  revision: 1,
  reschedules: 0,
});
const attempt = (claimToken: string, dequeueCount = 1) => ({ claimToken, dequeueCount, maxDequeueCount: 3 });

describe('the change service', () => {
  it('updates a copy once per revision, even when the task comes again under another message', async () => {
    await contents.revise((await contents.get(TENANT, JOB))!, { text: 'v2' });
    expect(await service.apply(task('update'), attempt('m1'))).toMatchObject({
      kind: 'done',
      status: 'sent',
    });
    expect(await service.apply(task('update'), attempt('m2'))).toMatchObject({
      kind: 'done',
      duplicate: true,
    });
    expect(connector.calls).toEqual([
      { op: 'update', activityId: '1700000000000', body: expect.objectContaining({ text: 'v2' }) },
    ]);
    expect(await records.get(TENANT, JOB, 'userId:29:a')).toMatchObject({
      revision: 1,
      changeClaim: undefined,
    });
  });

  it('a 5xx releases the claim for the queue to retry; on the last attempt the failure is recorded', async () => {
    await contents.revise((await contents.get(TENANT, JOB))!, { text: 'v2' });
    connector.answers = [{ ok: false, status: 503, code: 'ServiceUnavailable', message: 'x' }];
    // 503 is throttling in the error table: it waits in process, then succeeds.
    expect(await service.apply(task('update'), attempt('m1'))).toMatchObject({
      kind: 'done',
      status: 'sent',
    });
    const fault = { ok: false as const, status: 500, code: 'InternalServerError', message: 'x' };
    // Three 500s: two quick retries in process, then back to the queue.
    connector.answers = [fault, fault, fault];
    await contents.revise((await contents.get(TENANT, JOB))!, { text: 'v3' });
    expect(await service.apply(task('update'), attempt('m2'))).toEqual({
      kind: 'retry',
      reason: 'InternalServerError',
    });
    expect((await records.get(TENANT, JOB, 'userId:29:a'))?.changeClaim).toBeUndefined();
    connector.answers = [fault, fault, fault];
    await service.apply(task('update'), attempt('m2', 3));
    expect((await records.get(TENANT, JOB, 'userId:29:a'))?.changeFailure).toMatchObject({
      op: 'update',
      reason: 'InternalServerError',
    });
  });

  it('recall deletes a sent copy and cancels a delivery not sent yet; a recalled job is not updated', async () => {
    await contents.recall((await contents.get(TENANT, JOB))!, 'effective');
    expect(await service.apply(task('recall'), attempt('m1'))).toMatchObject({ status: 'recalled' });
    expect(await service.apply(task('recall', 'userId:29:b'), attempt('m2'))).toMatchObject({
      status: 'cancelled',
    });
    expect(await records.get(TENANT, JOB, 'userId:29:b')).toMatchObject({
      status: 'cancelled',
      reason: 'Recalled',
    });
    expect(await service.apply(task('update'), attempt('m3'))).toMatchObject({ reason: 'recalled' });
    expect(connector.calls.map((c) => c.op)).toEqual(['delete']);
  });

  it('the send reads the latest revision, or nothing to send once a recall is asked for', async () => {
    let clock = 0;
    const hooks = sendHooks(contents, new ContentCache(contents, CONTENT_TTL_MS, () => clock));
    await contents.revise((await contents.get(TENANT, JOB))!, { text: 'v2' });
    expect(await hooks.latest(deliveryTask)).toMatchObject({ revision: 1, activity: { text: 'v2' } });
    await contents.recall((await contents.get(TENANT, JOB))!, 'requested');
    // Within the TTL this instance still acts on what it read: the window a recall waits out.
    clock += CONTENT_TTL_MS - 1;
    expect(await hooks.latest(deliveryTask)).toMatchObject({ revision: 1 });
    clock += 1;
    expect(await hooks.latest(deliveryTask)).toBe('recalled');
  });

  it('content whose read took longer than the TTL is read again, not acted on', async () => {
    let clock = 0;
    let slowReads = 2;
    const slow = {
      ...contents,
      get: async (tenantId: string, jobId: string) => {
        const content = await contents.get(tenantId, jobId);
        if (slowReads-- > 0) clock += CONTENT_TTL_MS; // the answer came a whole TTL after the read began
        return content;
      },
    } as unknown as MemoryJobContentStore;
    const cache = new ContentCache(slow, CONTENT_TTL_MS, () => clock);
    expect(await cache.get(TENANT, JOB)).toMatchObject({ revision: 0 });
    expect(slowReads).toBe(-1); // three reads: two too slow, the third in time
    slowReads = 3;
    clock += CONTENT_TTL_MS;
    await expect(cache.get(TENANT, JOB)).rejects.toThrow(/took over/);
  });
});

const deliveryTask = {
  v: 1 as const,
  jobId: JOB,
  tenantId: TENANT,
  recipient: 'userId:29:b',
  message: { text: 'v1' },
  acceptedAt: '',
  reschedules: 0,
};

describe('follow-up telemetry', () => {
  it('an update and a recall each raise their event and FollowUps metric, without message text', async () => {
    const seen: Array<{ kind: string; name: string; props?: Record<string, unknown> }> = [];
    const previous = telemetry();
    const capture: Telemetry = {
      event: (name, props) =>
        void seen.push({ kind: 'event', name, props: props as Record<string, unknown> }),
      metric: (name, _value, props) =>
        void seen.push({ kind: 'metric', name, props: props as Record<string, unknown> }),
      dependency: () => undefined,
      userRef: (id) => (id ? 'hashed' : undefined),
    };
    setTelemetry(capture);
    try {
      await contents.revise((await contents.get(TENANT, JOB))!, { text: 'secret v2' });
      await service.apply(task('update'), attempt('m1'));
      await contents.recall((await contents.get(TENANT, JOB))!, 'effective');
      await service.apply(task('recall'), attempt('m2'));
    } finally {
      setTelemetry(previous);
    }
    expect(seen.filter((e) => e.kind === 'event').map((e) => e.name)).toEqual([
      'MessageUpdated',
      'MessageRecalled',
    ]);
    expect(seen.filter((e) => e.name === 'FollowUps').map((e) => e.props?.kind)).toEqual([
      'updated',
      'recalled',
    ]);
    expect(JSON.stringify(seen)).not.toContain('secret');
    expect(seen.find((e) => e.name === 'MessageUpdated')?.props).toMatchObject({
      jobId: JOB,
      recipient: 'hashed',
      revision: 1,
    });
  });
});
