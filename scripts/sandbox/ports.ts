import { connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * Asks the OS for a currently unused TCP port on 127.0.0.1.
 * The port is released before returning, so another process could grab it in between:
 * onFreePorts starts again when that happens.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/**
 * Starts something on `count` free ports, with fresh ports again (up to 3 times) when another process
 * took one first (freePort's race: two test suites side by side hit it about once in ten runs).
 */
export async function onFreePorts<T>(count: number, start: (ports: number[]) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
    try {
      return await start(ports);
    } catch (err) {
      if (attempt >= 3 || !String((err as Error)?.message).includes('EADDRINUSE')) throw err;
    }
  }
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * True when `port` cannot be listened on at `host` (default: every interface, as the Playground
 * does), i.e. another process has it. Other errors (e.g. EACCES) are reported as such.
 */
export function portTaken(port: number, host?: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve(true);
      else reject(err);
    });
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(false)));
  });
}
