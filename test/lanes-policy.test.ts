import { describe, expect, it } from 'vitest';
import { contentHash, toActivity, validateJob } from '../shared/jobs/contract.js';
import { BULK_ABOVE_RECIPIENTS, laneOf, URGENT_MAX_RECIPIENTS } from '../shared/jobs/priority.js';
import { FLOORS, newLaneHistory, pickNext, streakLimit, type LaneClaim } from '../shared/delivery/lanes.js';
import { LaneGate } from '../shared/delivery/laneGate.js';
import { defaultPolicy, gapMs, grant, raiseSignal } from '../shared/delivery/budget/schedule.js';

/**
 * Priority lanes, the pure decisions (docs/delivery.md#lanes): which lane a job runs in, which waiting
 * call gets the tenant's next time (urgent first, bulk's floor, jobs in turns), the budget's yield
 * signal, and the alert an urgent message carries.
 */

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const users = (n: number) => Array.from({ length: n }, (_, i) => ({ userId: `29:user-${i}` }));
const job = (extra: Record<string, unknown>) => ({
  tenantId: TENANT,
  recipients: users(1),
  message: { text: 'hi' },
  ...extra,
});

describe('a job’s lane', () => {
  it('is normal by default, bulk for audiences and for more than the threshold, or what the job asks', () => {
    const lane = (input: Record<string, unknown>) => {
      const v = validateJob(job(input));
      if (!v.ok) throw new Error(v.errors.join('; '));
      return laneOf(v.job);
    };
    expect(lane({})).toBe('normal');
    expect(lane({ recipients: users(BULK_ABOVE_RECIPIENTS) })).toBe('normal');
    expect(lane({ recipients: users(BULK_ABOVE_RECIPIENTS + 1) })).toBe('bulk');
    expect(lane({ recipients: [{ teamId: '19:team@thread.tacv2' }] })).toBe('bulk');
    expect(lane({ recipients: [{ allUsers: true }], priority: 'normal' })).toBe('normal');
    expect(lane({ priority: 'bulk' })).toBe('bulk');
    expect(lane({ priority: 'urgent', recipients: users(URGENT_MAX_RECIPIENTS) })).toBe('urgent');
  });

  it('refuses urgent for an audience or more than a few people, and an unknown priority, saying why', () => {
    const refused = (input: Record<string, unknown>) => {
      const v = validateJob(job(input));
      return v.ok ? [] : [v.reason, ...v.errors];
    };
    expect(
      refused({ priority: 'urgent', recipients: [{ groupId: 'b320f2d4-0000-4000-8000-000000000001' }] }),
    ).toEqual(['SchemaInvalid', expect.stringMatching(/^\/priority: urgent is for people named one by one/)]);
    expect(refused({ priority: 'urgent', recipients: users(URGENT_MAX_RECIPIENTS + 1) })).toEqual([
      'SchemaInvalid',
      `/priority: urgent is for at most ${URGENT_MAX_RECIPIENTS} recipients (this job names ${URGENT_MAX_RECIPIENTS + 1}); use normal or bulk`,
    ]);
    expect(refused({ priority: 'high' })[1]).toMatch(
      /^\/priority: must be equal to one of the allowed values/,
    );
  });

  it('is part of the job’s content: the same ID with another priority is another job', () => {
    const [a, b, c] = [{}, { priority: 'urgent' }, { priority: 'normal' }].map((p) => {
      const v = validateJob(job({ id: 'page-1', ...p }));
      if (!v.ok) throw new Error(v.errors.join('; '));
      return contentHash(v.job);
    });
    expect(new Set([a, b, c]).size).toBe(3);
  });
});

describe('an urgent message', () => {
  it('asks Teams to alert the person (channelData.notification.alert), and only urgent ones do', () => {
    expect(toActivity({ text: 'Sev 1' }, { alert: true })).toEqual({
      type: 'message',
      text: 'Sev 1',
      textFormat: 'markdown',
      channelData: { notification: { alert: true } },
    });
    expect(toActivity({ text: 'FYI' })).not.toHaveProperty('channelData');
  });
});

/** Serves `waiters` one time each, in the order pickNext chooses; returns the order. */
function serve(waiters: LaneClaim[], picks = waiters.length): LaneClaim[] {
  const h = newLaneHistory();
  const left = [...waiters];
  const order: LaneClaim[] = [];
  for (let i = 0; i < picks && left.length; i++) order.push(...left.splice(pickNext(left, h), 1));
  return order;
}

const many = (n: number, claim: LaneClaim) => Array.from({ length: n }, () => ({ ...claim }));

describe('who gets the tenant’s next time', () => {
  it('an urgent call first, even behind many others; the others keep a tenth while urgent ones wait', () => {
    const order = serve(
      [...many(30, { lane: 'bulk', jobId: 'b' }), ...many(30, { lane: 'urgent', jobId: 'u' })],
      30,
    );
    expect(order[0]!.lane).toBe('urgent');
    const others = order.filter((w) => w.lane !== 'urgent').length;
    expect(others).toBe(Math.floor(30 / (streakLimit(FLOORS.belowUrgent) + 1)));
  });

  it('normal before bulk, but bulk keeps its floor (a fifth) while normal calls wait', () => {
    const order = serve(
      [...many(50, { lane: 'bulk', jobId: 'b' }), ...many(50, { lane: 'normal', jobId: 'n' })],
      50,
    );
    expect(order[0]!.lane).toBe('normal');
    expect(order.filter((w) => w.lane === 'bulk')).toHaveLength(50 * FLOORS.bulk);
    // With no normal call waiting, bulk gets every time.
    expect(serve(many(5, { lane: 'bulk', jobId: 'b' })).every((w) => w.lane === 'bulk')).toBe(true);
  });

  it('within a lane, jobs take turns: a 2-call job is served next, not after a 40-call job', () => {
    const order = serve([
      ...many(40, { lane: 'bulk', jobId: 'big' }),
      ...many(2, { lane: 'bulk', jobId: 'small' }),
    ]);
    const at = order.map((w, i) => (w.jobId === 'small' ? i : -1)).filter((i) => i >= 0);
    expect(at).toEqual([1, 3]);
  });

  it('the in-process pacing (TENANT_BUDGET=local) lets calls through in the same order', async () => {
    const gate = new LaneGate();
    const order: string[] = [];
    let release!: () => void;
    let first!: Promise<void>;
    // The first call holds the gate until released, while the others line up behind it.
    await new Promise<void>((started) => {
      first = gate.pass({ lane: 'bulk' }, Infinity, () => {
        started();
        return new Promise<void>((r) => (release = r));
      });
    });
    const rest = [
      gate.pass({ lane: 'bulk', jobId: 'b' }, Infinity, async () => void order.push('bulk')),
      gate.pass({ lane: 'normal' }, Infinity, async () => void order.push('normal')),
      gate.pass({ lane: 'urgent' }, Infinity, async () => void order.push('urgent')),
    ];
    release();
    await Promise.all([first, ...rest]);
    expect(order).toEqual(['urgent', 'normal', 'bulk']);
  });
});

describe('the budget’s yield signal (schedule.ts)', () => {
  const p = defaultPolicy(50);
  const now = 1_000_000;
  // The schedule is granted up to its horizon, as busy instances keep it.
  const full = { next: now + p.horizonMs - 5 * gapMs(p) };

  it('an urgent ask raises it; other asks then reach only the short yield horizon ahead', () => {
    const urgent = grant(full, now, 2, p, { urgent: true });
    expect(urgent.kind === 'grant' && urgent.state.urgentUntil).toBe(now + p.urgentHoldMs);
    const yielded = grant(raiseSignal({ next: now }, now, p), now, 50, p);
    expect(yielded.kind).toBe('grant');
    if (yielded.kind !== 'grant') return;
    const last = yielded.block.start + (yielded.block.count - 1) * yielded.block.gap;
    expect(last).toBeLessThanOrEqual(now + p.yieldHorizonMs);
    // Past the signal's end, a normal ask reaches the whole horizon again and the signal is dropped.
    const later = now + p.urgentHoldMs + 1;
    const after = grant(raiseSignal({ next: later }, now, p), later, 50, p);
    expect(after.kind === 'grant' && after.block.count).toBe(p.maxBlock);
    expect(after.kind === 'grant' && after.state.urgentUntil).toBeUndefined();
  });

  it('while it is up, a non-urgent ask waits until the schedule’s free end comes within the yield horizon', () => {
    const d = grant(raiseSignal(full, now, p), now, 5, p);
    expect(d).toEqual({ kind: 'wait', retryAt: full.next + 4 * gapMs(p) - p.yieldHorizonMs });
    // Without the signal the same ask is granted at once.
    expect(grant(full, now, 5, p).kind).toBe('grant');
  });
});
