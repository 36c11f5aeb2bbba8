import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tableClient } from '../shared/azureStorage/connection.js';
import { LazyTable } from '../shared/azureStorage/table.js';
import { TableBudgetStore } from '../shared/azureStorage/tableBudgetStore.js';
import { SharedTenantBudget } from '../shared/delivery/budget/sharedBudget.js';
import type { LaneClaim } from '../shared/delivery/lanes.js';
import { startAzurite, type Azurite } from './support/azurite.js';

/**
 * The tenant budget's lanes against real Azurite, its row in the RateBudgets table shared by the
 * instances (docs/rate-limits.md#lanes): another instance yields to an urgent send; within an instance
 * jobs take turns, urgent calls go first and bulk keeps its floor while normal calls wait.
 */

let azurite: Azurite;
const budgets: SharedTenantBudget[] = [];

beforeAll(async () => {
  azurite = await startAzurite();
});
afterEach(() => {
  for (const b of budgets.splice(0)) b.stop();
});
afterAll(async () => {
  await azurite?.stop();
});

/** One instance's side of the budget, on the shared table. */
function instance(): SharedTenantBudget {
  const table = new LazyTable(tableClient({ connectionString: azurite.connectionString }, 'RateBudgets'));
  const budget = new SharedTenantBudget({ store: new TableBudgetStore(table), ratePerSecond: 50 });
  budgets.push(budget);
  return budget;
}

const sleepUntil = (at: number) => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));

/** Takes a time for each claim at once, and lists the claims in the order of their times. */
async function servedOrder(budget: SharedTenantBudget, tenant: string, claims: LaneClaim[]) {
  const got = await Promise.all(
    claims.map(async (c) => ({ c, t: (await budget.take(tenant, Infinity, c))! })),
  );
  return got.sort((a, b) => a.t - b.t).map((g) => g.c);
}

describe('two instances sharing one budget', () => {
  it('the other instance yields to an urgent send: it reaches only a short way ahead while the send waits', async () => {
    const tenant = 'lanes-yield';
    const [a, b] = [instance(), instance()];
    // Instance B drains a broadcast: 20 callers, each using its time and asking again, as sends do.
    const bTimes: number[] = [];
    let running = true;
    const caller = async () => {
      while (running) {
        const t = await b.take(tenant, Infinity, { lane: 'bulk', jobId: 'broadcast' });
        if (t === undefined || !running) return;
        bTimes.push(t);
        await sleepUntil(t);
      }
    };
    const callers = Array.from({ length: 20 }, caller);
    // Until B holds the schedule up to its horizon (about a second of times ahead).
    while (bTimes.length < 80) await sleepUntil(Date.now() + 50);
    // Instance A: an urgent delivery's calls, one after another (open the chat, send, ...).
    const urgent: number[] = [];
    for (let i = 0; i < 4; i++) {
      const t = (await a.take(tenant, Infinity, { lane: 'urgent', jobId: 'page' }))!;
      urgent.push(t);
      await sleepUntil(t);
    }
    running = false;
    await Promise.all(callers.map((c) => Promise.race([c, sleepUntil(Date.now() + 2000)])));
    // The first urgent time comes after what B already held (times are never taken back); once B
    // has seen the signal it holds at most the yield horizon (250 ms, 12 times) and a block more, so
    // each next urgent call finds a time after at most that many of B's. Without lanes B keeps a
    // whole second (48 times) ahead.
    for (let i = 1; i < urgent.length; i++) {
      const between = bTimes.filter((t) => t > urgent[i - 1]! && t < urgent[i]!).length;
      expect(between, `B's times between urgent calls ${i} and ${i + 1}`).toBeLessThanOrEqual(20);
    }
    // B still got times all along: it yields, it does not stop.
    expect(bTimes.filter((t) => t > urgent[0]! && t < urgent.at(-1)!).length).toBeGreaterThan(0);
  });
});

describe('one instance on the shared budget', () => {
  it('jobs in a lane take turns: a 2-call job is served second and fourth, not after a 30-call job', async () => {
    const order = await servedOrder(instance(), 'lanes-turns', [
      ...Array.from({ length: 30 }, () => ({ lane: 'bulk' as const, jobId: 'announcement' })),
      ...Array.from({ length: 2 }, () => ({ lane: 'bulk' as const, jobId: 'team-of-two' })),
    ]);
    expect(order.flatMap((c, i) => (c.jobId === 'team-of-two' ? [i] : []))).toEqual([1, 3]);
  });

  it('an urgent call goes first; normal calls go before bulk ones, which keep a fifth of the times', async () => {
    const order = await servedOrder(instance(), 'lanes-floor', [
      ...Array.from({ length: 40 }, () => ({ lane: 'bulk' as const, jobId: 'broadcast' })),
      ...Array.from({ length: 40 }, () => ({ lane: 'normal' as const, jobId: 'build-green' })),
      { lane: 'urgent', jobId: 'page' },
    ]);
    expect(order[0]!.lane).toBe('urgent');
    const next40 = order.slice(1, 41).map((c) => c.lane);
    expect(next40.filter((l) => l === 'normal')).toHaveLength(32);
    expect(next40.filter((l) => l === 'bulk')).toHaveLength(8);
  });
});
