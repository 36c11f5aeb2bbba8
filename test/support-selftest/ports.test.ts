/** Proves test/support/ports.ts hands out ports the real tests can listen on, and starts again when one is taken. */
import { createServer } from 'node:net';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { freePort, onFreePorts } from '../support/ports.js';

describe('freePort', () => {
  it('returns a port that can be listened on', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    await new Promise((resolve) => server.close(resolve));
  });

  it('stays below the ephemeral range that outgoing connections use, and never repeats a port', async () => {
    const [low] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'))
      .trim()
      .split(/\s+/)
      .map(Number);
    const ports = await Promise.all(Array.from({ length: 400 }, () => freePort()));
    for (const port of ports) expect(port).toBeLessThan(low!);
    expect(new Set(ports).size).toBe(ports.length);
  });
});

describe('onFreePorts', () => {
  it('starts again on fresh ports when another process took one first, and only then', async () => {
    const tried: number[][] = [];
    // The first start finds its port taken, as when a second suite's server got there first.
    const started = await onFreePorts(2, async (ports) => {
      tried.push(ports);
      if (tried.length === 1)
        throw new Error(`listen EADDRINUSE: address already in use 127.0.0.1:${ports[0]}`);
      return ports;
    });
    expect(tried).toHaveLength(2);
    expect(started).toEqual(tried[1]);
    let calls = 0;
    await expect(
      onFreePorts(1, async () => {
        calls++;
        throw new Error('Azurite exited early (code 1)');
      }),
    ).rejects.toThrow('exited early');
    expect(calls).toBe(1);
  });
});
