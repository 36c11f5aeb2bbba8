/**
 * An HTTP server that answers everything with 200 `{}` and remembers what it was sent. Point a
 * serviceUrl (or any URL the bot might call) at it to prove the bot's token never leaves for a
 * host that is not Microsoft's: afterwards, no recorded request may carry an authorization header.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TrappedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface TrapServer {
  /** Base URL with a trailing slash, e.g. http://127.0.0.1:1234/ */
  url: string;
  requests: TrappedRequest[];
  stop(): Promise<void>;
}

export async function startTrapServer(): Promise<TrapServer> {
  const requests: TrappedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    requests,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
