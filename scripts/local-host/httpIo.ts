/**
 * The node:http side of HTTP triggers: reading a request body within the limit, answering early
 * without resetting the connection, checking keys, and keeping the function key out of logs.
 */
import { timingSafeEqual } from 'node:crypto';
import type http from 'node:http';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export class BodyTooLargeError extends HttpError {
  constructor(limit: number) {
    super(413, `Request body larger than ${limit} bytes.`);
  }
}

/** After an early answer: bytes of the unread request body we still swallow, and for how long. */
const DISCARD_MAX_BYTES = 16 * 1024 * 1024;
const DISCARD_MAX_MS = 2000;

/**
 * Swallows the rest of a request body we answered early (413, 401, ...) so the client can read the
 * response before the connection closes (closing with unread input makes TCP reset the connection,
 * and clients may then lose the response). Gives up after a few MB or seconds.
 */
export function discardRest(req: http.IncomingMessage): void {
  let seen = 0;
  const timer = setTimeout(() => req.destroy(), DISCARD_MAX_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > DISCARD_MAX_BYTES) req.destroy();
  });
  req.once('close', () => clearTimeout(timer));
  req.resume();
}

export function keyMatches(candidate: string | undefined, key: string | undefined): boolean {
  if (candidate === undefined || key === undefined) return false;
  const a = Buffer.from(candidate);
  const b = Buffer.from(key);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function headerRecord(req: http.IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

export function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/** The request path for logs, with the `code` (function key) query value hidden. */
export function redactedPath(rawUrl: string | undefined): string {
  const raw = rawUrl ?? '';
  return raw.replace(/([?&]code=)[^&#]*/gi, '$1***');
}
