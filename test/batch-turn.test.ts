/** A batch's deliveries in turn, and the rest handed back to the queue once its turn is over (no Azurite). */
import { describe, expect, it } from 'vitest';
import { deliverInTurn } from '../functions/notificationDeliveries/batchTurn.js';

/** Each delivery takes `stepMs` on a fake clock; `fails` names the items that throw. */
function run(items: string[], o: { stepMs: number; turnMs: number; fails?: string[] }) {
  let clock = 0;
  const delivered: string[] = [];
  const handedBack: string[][] = [];
  const result = deliverInTurn(
    items,
    async (item) => {
      clock += o.stepMs;
      delivered.push(item);
      if (o.fails?.includes(item)) throw new Error(`failed ${item}`);
    },
    { turnMs: o.turnMs, now: () => clock, handBack: async (rest) => void handedBack.push(rest) },
  );
  return result.then((r) => ({ ...r, delivered, handedBack }));
}

describe('deliverInTurn', () => {
  const items = ['a', 'b', 'c', 'd', 'e'];

  it('delivers every recipient in order when the turn is long enough', async () => {
    const r = await run(items, { stepMs: 10, turnMs: 1_000 });
    expect(r.delivered).toEqual(items);
    expect(r.handedBack).toEqual([]);
    expect(r.failure).toBeUndefined();
  });

  it('hands back exactly the recipients not started once the turn is over', async () => {
    const r = await run(items, { stepMs: 25, turnMs: 60 });
    expect(r.delivered).toEqual(['a', 'b', 'c']);
    expect(r.handedBack).toEqual([['d', 'e']]);
  });

  it('always starts the first recipient, however long the others took elsewhere', async () => {
    const r = await run(['a'], { stepMs: 100, turnMs: 0 });
    expect(r.delivered).toEqual(['a']);
    expect(r.handedBack).toEqual([]);
  });

  it('after a failure, keeps going past the turn and reports the first failure, handing nothing back', async () => {
    const r = await run(items, { stepMs: 25, turnMs: 60, fails: ['b', 'd'] });
    expect(r.delivered).toEqual(items);
    expect(r.handedBack).toEqual([]);
    expect(String(r.failure)).toBe('Error: failed b');
  });
});
