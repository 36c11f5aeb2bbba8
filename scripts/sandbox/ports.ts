import { connect, createServer } from 'node:net';

/**
 * Ports handed out below the OS's ephemeral range, where outgoing connections take their local
 * ports: a port from the ephemeral range (what `listen(0)` gives) can be taken by any busy HTTP
 * client before our server binds it, which two test suites side by side did.
 * 20000–32767 lies below the default ranges of Linux (32768–60999), Windows and macOS (49152–).
 */
const LOW = 20_000;
const HIGH = 32_767;
const handedOut = new Set<number>();

/**
 * A currently unused TCP port on 127.0.0.1, not handed out before by this process.
 * The port is released before returning, so another process could still grab it in between:
 * onFreePorts starts again when that happens.
 */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    if (handedOut.has(port)) continue;
    // Marked before the check, so calls made at once never pick the same port.
    handedOut.add(port);
    if (await listenable(port)) return port;
  }
  throw new Error(`no free port found between ${LOW} and ${HIGH}`);
}

function listenable(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(false) : reject(err),
    );
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
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
