/**
 * The recipient hourly cap (RECIPIENT_HOURLY_CAP) counts notifications sent, once per delivery: not
 * the claims of a delivery taken over after a 429 or retried, and not a delivery that ended without a
 * message (failed, or cancelled by a recall). In-memory stores; the connector answers as Microsoft
 * documents (support/scriptedConnector.ts).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { hourOf } from '../shared/delivery/policy.js';
import type { DeliveryTask } from '../shared/delivery/task.js';
import type { SendHooks } from '../shared/followUps/sendHooks.js';
import { MemoryConversationStore, MemoryDeliveryRecordStore } from './support/memoryStores.js';
import { fail, memoryDeliveryService, ScriptedConnector } from './support/scriptedConnector.js';

const TENANT = 'a1b2c3d4-0000-4000-8000-00000000ca9';
const SERVICE_URL = 'https://smba.trafficmanager.net/amer/';

let conversations: MemoryConversationStore;
let records: MemoryDeliveryRecordStore;

beforeEach(async () => {
  conversations = new MemoryConversationStore();
  records = new MemoryDeliveryRecordStore(conversations);
  await conversations.saveTenant({ tenantId: TENANT, serviceUrl: SERVICE_URL, botId: '28:bot' });
  await conversations.saveUser(
    TENANT,
    { userId: '29:u', serviceUrl: SERVICE_URL },
    { conversationId: 'a:chat' },
  );
});

const service = (connector: ScriptedConnector, cap: number, hooks?: SendHooks) =>
  memoryDeliveryService({ conversations, records }, connector, {
    serviceUrl: SERVICE_URL,
    recipientHourlyCap: cap,
    hooks,
  });
const task = (jobId: string): DeliveryTask => ({
  v: 1,
  jobId,
  tenantId: TENANT,
  recipient: 'userId:29:u',
  message: { text: 'hello' },
  acceptedAt: new Date().toISOString(),
  reschedules: 0,
});
const attempt = (message: string) => ({
  claimToken: `${message}:1:inv-${message}`,
  dequeueCount: 1,
  maxDequeueCount: 5,
});
const counted = async () => {
  const user = await conversations.getUserById(TENANT, '29:u');
  return user?.capHour === hourOf(new Date()) ? user.capCount : 0;
};

describe('the hourly cap counts notifications sent, once per delivery', () => {
  it('a delivery taken over after a 429 is not refused by its own count, and counts once', async () => {
    const connector = new ScriptedConnector([], [fail(429, 'TooManyRequests', 30_000)]);
    const s = service(connector, 1);
    expect(await s.deliver(task('job-1'), attempt('m1'))).toMatchObject({ kind: 'reschedule' });
    expect(await counted()).toBe(1);
    // The reschedule, a new queue message, takes the pending delivery over: the hour is full, by itself.
    expect(await s.deliver({ ...task('job-1'), reschedules: 1 }, attempt('m2'))).toMatchObject({
      kind: 'done',
      status: 'sent',
    });
    expect(await counted()).toBe(1);
    // Another notification in the same hour is over the cap.
    expect(await s.deliver(task('job-2'), attempt('m3'))).toMatchObject({
      status: 'skipped',
      reason: 'HourlyCapReached',
    });
  });

  it('a retried delivery counts once', async () => {
    const connector = new ScriptedConnector(
      [],
      [fail(500, 'InternalServerError'), fail(500, 'InternalServerError'), fail(500, 'InternalServerError')],
    );
    const s = service(connector, 5);
    expect(await s.deliver(task('job-1'), attempt('m1'))).toMatchObject({ kind: 'retry' });
    expect(
      await s.deliver(task('job-1'), { ...attempt('m1'), claimToken: 'm1:2:inv-b', dequeueCount: 2 }),
    ).toMatchObject({
      status: 'sent',
    });
    expect(await counted()).toBe(1);
  });

  it('a delivery that failed, or was cancelled by a recall, gives its count back', async () => {
    const blocked = new ScriptedConnector([], [fail(400, 'BadArgument')]);
    expect(await service(blocked, 5).deliver(task('job-1'), attempt('m1'))).toMatchObject({
      status: 'failed',
    });
    expect(await counted()).toBe(0);
    const recalled: SendHooks = { latest: async () => 'recalled' };
    const quiet = new ScriptedConnector();
    expect(await service(quiet, 5, recalled).deliver(task('job-2'), attempt('m2'))).toMatchObject({
      status: 'cancelled',
    });
    expect(quiet.calls).toEqual([]);
    expect(await counted()).toBe(0);
  });
});
