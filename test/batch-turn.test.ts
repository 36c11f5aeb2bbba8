/** A batch's deliveries in turn: the rest handed back near the deadline or after the first failure (no Azurite). */
import { describe, expect, it } from 'vitest';
import { deliverInTurn } from '../functions/notificationDeliveries/batchTurn.js';

/** Each delivery takes `stepMs` on a fake clock with `turnMs` to go; `fails` names the items that throw. */
function run(items: string[], o: { stepMs: number; turnMs: number; fails?: string[] }) {
  let clock = 0;
  const delivered: string[] = [];
  const result = deliverInTurn(
    items,
    async (item) => {
      clock += o.stepMs;
      delivered.push(item);
      if (o.fails?.includes(item)) throw new Error(`failed ${item}`);
    },
    { mayStart: () => clock < o.turnMs },
  );
  return result.then((r) => ({ ...r, delivered }));
}

describe('deliverInTurn', () => {
  const items = ['a', 'b', 'c', 'd', 'e'];

  it('delivers every recipient in order when there is time', async () => {
    const r = await run(items, { stepMs: 10, turnMs: 1_000 });
    expect(r.delivered).toEqual(items);
    expect(r.rest).toEqual([]);
    expect(r.failed).toBeUndefined();
  });

  it('hands back exactly the recipients not started once the deadline is near', async () => {
    const r = await run(items, { stepMs: 25, turnMs: 60 });
    expect(r.delivered).toEqual(['a', 'b', 'c']);
    expect(r.rest).toEqual(['d', 'e']);
    expect(r.failed).toBeUndefined();
  });

  it('always starts the first recipient, however little time is left', async () => {
    const r = await run(['a', 'b'], { stepMs: 100, turnMs: 0 });
    expect(r.delivered).toEqual(['a']);
    expect(r.rest).toEqual(['b']);
  });

  it('stops at the first failure: the failing recipient, and the untouched rest, go back', async () => {
    const r = await run(items, { stepMs: 25, turnMs: 1_000, fails: ['b', 'd'] });
    expect(r.delivered).toEqual(['a', 'b']);
    expect(r.failed?.item).toBe('b');
    expect(String(r.failed?.error)).toBe('Error: failed b');
    expect(r.rest).toEqual(['c', 'd', 'e']);
  });
});
