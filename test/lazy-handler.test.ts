import { describe, expect, it } from 'vitest';
import { lazy } from '../shared/triggers/lazy.js';

describe('lazy handler', () => {
  it('imports the module once, on the first invocation', async () => {
    let loads = 0;
    const handler = lazy(async () => {
      loads++;
      return async (n: number) => n * 2;
    });
    expect(loads).toBe(0);
    expect(await Promise.all([handler(1), handler(2)])).toEqual([2, 4]);
    expect(await handler(3)).toBe(6);
    expect(loads).toBe(1);
  });

  it('retries a failed import on the next invocation instead of failing forever', async () => {
    let attempts = 0;
    const handler = lazy(async () => {
      if (++attempts === 1) throw new Error('disk hiccup');
      return async () => 'ok';
    });
    await expect(handler()).rejects.toThrow('disk hiccup');
    expect(await handler()).toBe('ok');
    expect(attempts).toBe(2);
  });
});
