import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGraph, type FakeGraph } from '../scripts/sandbox/fakeGraph/server.js';
import type { Deadline } from '../shared/delivery/deadline.js';
import { GraphClient } from '../shared/graph/client.js';
import { decideGraphFailure } from '../shared/graph/failures.js';
import { graphLimiters, type GraphLimiters } from '../shared/graph/limits.js';
import type { GraphSettings } from '../shared/graph/settings.js';
import { person } from './support/fakeGraph.js';

/**
 * A delivery's Microsoft Graph calls (reaching someone the bot never met) keep the invocation's
 * deadline as its Teams calls do (shared/delivery/deadline.ts): no wait for Graph's budget and no
 * in-process wait for a Retry-After runs past it, and what cannot start in time is not sent and goes
 * back as a reschedule. Against the fake Graph (scripts/sandbox/fakeGraph/, Microsoft's documented
 * 429 answer: concepts/throttling.md).
 */

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const user = person();
let graph: FakeGraph;
let limiters: GraphLimiters;
let client: GraphClient;

/** A deadline `ms` from now, with a hard stop a little later. */
const deadlineIn = (ms: number): Deadline => ({
  at: Date.now() + ms,
  hardAt: Date.now() + ms + 2000,
  callTimeoutMs: 2000,
});

beforeAll(async () => {
  graph = await startFakeGraph({ directory: { users: [user] } });
  const settings: GraphSettings = {
    baseUrl: graph.url,
    catalogId: undefined,
    manifestId: undefined,
    teamsRatePerSecond: 30,
    // One directory read a second: a second read right after the first waits about a second.
    directoryRatePerSecond: 1,
    timeoutMs: 15_000,
  };
  limiters = graphLimiters(settings, undefined);
  client = new GraphClient(
    { enabled: true, origin: graph.origin, version: 'v1.0', auth: 'none', tenantId: undefined },
    { tokens: undefined, limiters, timeoutMs: 15_000, maxWaitMs: 10_000 },
  );
});

afterAll(async () => {
  limiters?.stop();
  await graph?.stop();
});

const reads = () => graph.requests.filter((r) => r.route === 'getUser').length;

describe("Microsoft Graph within a delivery's deadline", () => {
  it('waits out a short Retry-After in process without a deadline, but not past one', async () => {
    graph.fault({ route: 'getUser', reply: 'throttle', retryAfterSeconds: 3, times: 1 });
    const before = reads();
    const late = await client.getUser(TENANT, user.id, { deadline: deadlineIn(1000) });
    // Throttled, not retried: the 3 s wait would end past the deadline.
    expect(late).toMatchObject({ ok: false, status: 429 });
    expect(reads() - before).toBe(1);
    expect(late.ok ? undefined : decideGraphFailure(late, undefined)).toMatchObject({
      do: 'reschedule',
      reason: 'GraphThrottled',
      delayMs: 3000,
    });

    graph.fault({ route: 'getUser', reply: 'throttle', retryAfterSeconds: 3, times: 1 });
    const patient = await client.getUser(TENANT, user.id, { deadline: deadlineIn(30_000) });
    // With time left the SDK's retry handler waits the 3 s and asks again.
    expect(patient).toMatchObject({ ok: true, value: { id: user.id } });
    expect(reads() - before).toBe(3);
  });

  it("sends nothing when Graph's budget has no time for the call before the deadline", async () => {
    await client.getUser(TENANT, user.id, { deadline: deadlineIn(30_000) });
    const before = reads();
    // The budget's next time is about a second away; the deadline comes first.
    const refused = await client.getUser(TENANT, user.id, { deadline: deadlineIn(200) });
    expect(refused).toMatchObject({ ok: false, status: 0, code: 'DeadlinePassed' });
    expect(reads()).toBe(before);
    expect(refused.ok ? undefined : decideGraphFailure(refused, undefined)).toEqual({
      do: 'reschedule',
      reason: 'Deadline',
      delayMs: 0,
    });
    // Without a deadline the same call waits its turn and is answered.
    expect(await client.getUser(TENANT, user.id)).toMatchObject({ ok: true });
    expect(reads()).toBe(before + 1);
  });
});
