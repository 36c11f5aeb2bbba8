import { beforeEach, describe, expect, it } from 'vitest';
import type { BotConnector } from '../shared/delivery/connector.js';
import { DeliveryService } from '../shared/delivery/deliver.js';
import type { DeliveryTask } from '../shared/delivery/task.js';
import { CONTENT_TTL_MS, ContentCache } from '../shared/followUps/contentCache.js';
import { sendHooks } from '../shared/followUps/sendHooks.js';
import { MemoryJobContentStore } from './support/memoryFollowUps.js';
import { MemoryConversationStore, MemoryDeliveryRecordStore } from './support/memoryStores.js';
import {
  fail,
  memoryDeliveryService,
  ok,
  ScriptedConnector,
  type Answer,
} from './support/scriptedConnector.js';

/**
 * DeliveryService on the in-memory store twins: claim, open-chat-and-send and outcome recording
 * together, no Azurite, against a connector answering as Microsoft documents (support/scriptedConnector.ts).
 */

const TENANT = 'a1b2c3d4-0000-4000-8000-000000000001';
const SERVICE_URL = 'https://smba.trafficmanager.net/amer/';
const BOT = '28:unit-bot';

/** Sends wait for a gate before Teams answers, as a slow or stalled call would. */
class GatedConnector implements BotConnector {
  readonly calls: string[] = [];
  constructor(private readonly gate: Promise<void>) {}
  async createConversation(): Promise<Answer> {
    return ok('a:chat-new');
  }
  async sendToConversation(_url: string, conversationId: string): Promise<Answer> {
    this.calls.push(conversationId);
    await this.gate;
    return ok(`1:gated-${this.calls.length}`);
  }
}

/** A promise and the function that resolves it. */
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function until(condition: () => boolean) {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
}

let conversations: MemoryConversationStore;
let records: MemoryDeliveryRecordStore;

function service(
  connector: BotConnector,
  over: Partial<ConstructorParameters<typeof DeliveryService>[0]> = {},
) {
  return memoryDeliveryService({ conversations, records }, connector, { serviceUrl: SERVICE_URL, ...over });
}

const task = (userId: string, jobId = 'job-1'): DeliveryTask => ({
  v: 1,
  jobId,
  tenantId: TENANT,
  recipient: `userId:${userId}`,
  message: { text: 'Build is green' },
  acceptedAt: new Date().toISOString(),
  reschedules: 0,
});
const attempt = (claimToken = 'msg-1', dequeueCount = 1) => ({
  claimToken,
  dequeueCount,
  maxDequeueCount: 5,
});

beforeEach(async () => {
  conversations = new MemoryConversationStore();
  records = new MemoryDeliveryRecordStore(conversations);
  await conversations.saveTenant({ tenantId: TENANT, serviceUrl: SERVICE_URL, botId: BOT });
});

async function seed(userId: string, conversationId?: string) {
  await conversations.saveUser(
    TENANT,
    { userId, serviceUrl: SERVICE_URL },
    { source: 'personal', conversationId },
  );
}

describe('DeliveryService (in-memory stores)', () => {
  it('first contact: opens the chat, stores its ID, sends, and records sent once', async () => {
    await seed('29:new');
    const connector = new ScriptedConnector();
    const s = service(connector);
    const result = await s.deliver(task('29:new'), attempt());
    expect(result).toEqual({ kind: 'done', status: 'sent', reason: undefined });
    expect(connector.calls.map((c) => c.call)).toEqual(['create', 'send']);
    const user = await conversations.getUserById(TENANT, '29:new');
    expect(user?.conversationId).toBe('a:chat-1');
    expect(user?.capCount).toBe(1);
    expect(await records.get(TENANT, 'job-1', 'userId:29:new')).toMatchObject({
      status: 'sent',
      activityId: '1:activity-2',
      firstContact: true,
    });
    // The same task again (a redelivered message) sends nothing.
    expect(await s.deliver(task('29:new'), attempt('msg-2'))).toMatchObject({
      kind: 'done',
      duplicate: true,
    });
    expect(connector.calls).toHaveLength(2);
  });

  it('403 ConversationBlockedByUser: fails, deactivates, and the next job fails without a call', async () => {
    await seed('29:blocked', 'a:chat-b');
    const connector = new ScriptedConnector([], [fail(403, 'ConversationBlockedByUser')]);
    const s = service(connector);
    expect(await s.deliver(task('29:blocked'), attempt())).toMatchObject({
      status: 'failed',
      reason: 'ConversationBlockedByUser',
    });
    expect((await conversations.getUserById(TENANT, '29:blocked'))?.inactiveReason).toBe(
      'ConversationBlockedByUser',
    );
    expect(await s.deliver(task('29:blocked', 'job-2'), attempt('m2'))).toMatchObject({
      status: 'failed',
      reason: 'RecipientInactive',
    });
    expect(connector.calls).toHaveLength(1);
  });

  it('404 ConversationNotFound: opens the chat again once and sends', async () => {
    await seed('29:lost', 'a:forgotten');
    const connector = new ScriptedConnector([], [fail(404, 'ConversationNotFound')]);
    expect(await service(connector).deliver(task('29:lost'), attempt())).toMatchObject({ status: 'sent' });
    expect(connector.calls.map((c) => c.call)).toEqual(['send', 'create', 'send']);
    expect((await conversations.getUserById(TENANT, '29:lost'))?.conversationId).toBe('a:chat-2');
  });

  it('a transient failure hands the claim back for the queue to retry; the last attempt records failed', async () => {
    await seed('29:flaky', 'a:chat-f');
    // Each attempt retries twice in process before handing back: three calls per attempt.
    const s = service(new ScriptedConnector([], Array(6).fill(fail(500, 'InternalServerError'))));
    expect(await s.deliver(task('29:flaky'), attempt('m', 1))).toEqual({
      kind: 'retry',
      reason: 'InternalServerError',
    });
    expect(await records.get(TENANT, 'job-1', 'userId:29:flaky')).toMatchObject({ status: 'pending' });
    expect(await s.deliver(task('29:flaky'), attempt('m', 5))).toEqual({
      kind: 'retry',
      reason: 'InternalServerError',
      last: true,
    });
    expect(await records.get(TENANT, 'job-1', 'userId:29:flaky')).toMatchObject({
      status: 'failed',
      reason: 'InternalServerError',
    });
  });

  it('a long Retry-After reschedules through the queue; past the retry window the delivery fails', async () => {
    await seed('29:busy', 'a:chat-t');
    const s = service(
      new ScriptedConnector([], [fail(429, 'Http429', 60_000), fail(429, 'Http429', 60_000)]),
      { retryWindowMs: 90_000 },
    );
    expect(await s.deliver(task('29:busy'), attempt())).toEqual({
      kind: 'reschedule',
      delayMs: 60_000,
      reason: 'Http429',
    });
    // Accepted 40 s ago: another minute would end past the 90 s window.
    const acceptedAt = new Date(Date.now() - 40_000).toISOString();
    expect(await s.deliver({ ...task('29:busy'), acceptedAt, reschedules: 1 }, attempt('m2'))).toMatchObject({
      status: 'failed',
      reason: 'ThrottledTooLong',
    });
  });

  it('records a skip for a user who said stop, without a claim or a call', async () => {
    await seed('29:stop', 'a:chat-s');
    await conversations.updateUser(TENANT, '29:stop', (u) => (u ? { ...u, optedOut: true } : undefined));
    const connector = new ScriptedConnector();
    expect(await service(connector).deliver(task('29:stop'), attempt())).toMatchObject({
      status: 'skipped',
      reason: 'OptedOut',
    });
    expect(connector.calls).toHaveLength(0);
    expect(await records.get(TENANT, 'job-1', 'userId:29:stop')).toMatchObject({
      status: 'skipped',
      attempts: 0,
    });
  });

  it('leaves a delivery claimed by a live worker alone until its lease ends', async () => {
    await seed('29:twice', 'a:chat-2');
    const user = (await conversations.getUserById(TENANT, '29:twice'))!;
    await records.claim({
      tenantId: TENANT,
      jobId: 'job-1',
      recipient: 'userId:29:twice',
      claimToken: 'other-worker',
      user,
      capHour: new Date().toISOString().slice(0, 13),
    });
    const connector = new ScriptedConnector();
    const result = await service(connector).deliver(task('29:twice'), attempt('mine'));
    expect(result).toMatchObject({ kind: 'reschedule', reason: 'ClaimedElsewhere' });
    expect(connector.calls).toHaveLength(0);
  });

  it('a copy of a delivery this process is still sending waits for it, then finds it sent', async () => {
    await seed('29:slow', 'a:chat-slow');
    const gate = deferred();
    const connector = new GatedConnector(gate.promise);
    const s = service(connector);
    // The queue message's lease renewal failed, so the message came back while its first invocation
    // still waits on Teams: same message ID, so same claim token.
    const first = s.deliver(task('29:slow'), attempt('msg-1', 1));
    await until(() => connector.calls.length === 1);
    expect(await s.deliver(task('29:slow'), attempt('msg-1', 2))).toMatchObject({
      kind: 'reschedule',
      reason: 'ClaimedElsewhere',
    });
    gate.resolve();
    expect(await first).toMatchObject({ status: 'sent' });
    expect(await s.deliver(task('29:slow'), attempt('msg-2'))).toMatchObject({ duplicate: true });
    expect(connector.calls).toHaveLength(1);
  });

  it('a send Teams accepted is recorded sent even when another copy recorded a failure meanwhile', async () => {
    await seed('29:race', 'a:chat-race');
    const gate = deferred();
    const connector = new GatedConnector(gate.promise);
    const first = service(connector).deliver(task('29:race'), attempt('msg-1', 1));
    await until(() => connector.calls.length === 1);
    // Meanwhile another instance takes the same message, and finds the user blocked the bot (another
    // job's 403): it records the delivery failed over the claim that is still sending.
    await conversations.updateUser(TENANT, '29:race', (u) =>
      u ? { ...u, inactiveReason: 'ConversationBlockedByUser' } : undefined,
    );
    expect(
      await service(new ScriptedConnector()).deliver(task('29:race'), attempt('msg-1', 2)),
    ).toMatchObject({
      status: 'failed',
      reason: 'RecipientInactive',
    });
    gate.resolve();
    expect(await first).toMatchObject({ status: 'sent' });
    expect(await records.get(TENANT, 'job-1', 'userId:29:race')).toMatchObject({
      status: 'sent',
      activityId: '1:gated-1',
    });
    expect(records.sentByChat.get(`${TENANT}|a:chat-race`)).toEqual([
      { jobId: 'job-1', recipient: 'userId:29:race', activityId: '1:gated-1' },
    ]);
  });

  it('fails with BotIdUnknown when nothing names the bot in the tenant', async () => {
    conversations.tenants.clear();
    await seed('29:nobot');
    expect(await service(new ScriptedConnector()).deliver(task('29:nobot'), attempt())).toMatchObject({
      status: 'failed',
      reason: 'BotIdUnknown',
    });
  });

  it('a send gets its token, then checks the content, then calls; a recall asked for stops it', async () => {
    await seed('29:a', 'a:chat-a');
    await seed('29:b', 'a:chat-b');
    const steps: string[] = [];
    const contents = new MemoryJobContentStore();
    await contents.ensure({ jobId: 'job-1', tenantId: TENANT, message: { text: 'Build is green' } });
    const reading = Object.assign(Object.create(contents) as MemoryJobContentStore, {
      get: (tenantId: string, jobId: string) => (steps.push('read'), contents.get(tenantId, jobId)),
    });
    let clock = 0;
    const cache = new ContentCache(reading, CONTENT_TTL_MS, () => clock);
    const connector = Object.assign(new ScriptedConnector(), {
      prepare: async () => void steps.push('token'),
    });
    const s = service(connector, { hooks: sendHooks(reading, cache) });
    expect(await s.deliver(task('29:a'), attempt())).toMatchObject({ status: 'sent' });
    expect([...steps, ...connector.calls.map((c) => c.call)]).toEqual(['token', 'read', 'send']);
    await contents.recall((await contents.get(TENANT, 'job-1'))!, 'requested');
    clock += CONTENT_TTL_MS;
    expect(await s.deliver(task('29:b'), attempt('msg-2'))).toMatchObject({
      status: 'cancelled',
      reason: 'Recalled',
    });
    expect(connector.calls).toHaveLength(1);
  });
});
