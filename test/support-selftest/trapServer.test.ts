/** Proves test/support/trapServer.ts records what it is sent and answers 200 {}. */
import { describe, expect, it } from 'vitest';
import { startTrapServer } from '../support/trapServer.js';

describe('startTrapServer', () => {
  it('records method, url, headers and body, and answers 200 {}', async () => {
    const trap = await startTrapServer();
    try {
      const res = await fetch(new URL('v3/conversations?x=1', trap.url), {
        method: 'POST',
        headers: { authorization: 'Bearer secret' },
        body: 'payload',
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({});
      expect(trap.requests).toEqual([
        expect.objectContaining({ method: 'POST', url: '/v3/conversations?x=1', body: 'payload' }),
      ]);
      expect(trap.requests[0]?.headers.authorization).toBe('Bearer secret');
    } finally {
      await trap.stop();
    }
  });
});
