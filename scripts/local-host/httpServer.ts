/**
 * HTTP triggers: routing (host.json route prefix + route templates), method filter, function keys,
 * a request body limit, and conversion between node:http and the @azure/functions HttpRequest /
 * HttpResponse classes.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type * as azf from '@azure/functions';
import type { RegisteredFunction } from './coreApi.js';
import type { AzureFunctionsModule, Invoker } from './invoke.js';
import type { Logger } from './logger.js';
import { RouteTemplate, splitPath } from './routes.js';

export type AuthLevel = 'anonymous' | 'function' | 'admin';

export interface HttpFunction {
  fn: RegisteredFunction;
  name: string;
  /** Upper-case methods. */
  methods: string[];
  /** Route without the prefix, e.g. "notifications/{id}". */
  route: string;
  authLevel: AuthLevel;
  template: RouteTemplate;
}

export interface HttpServerOptions {
  azf: AzureFunctionsModule;
  invoker: Invoker;
  logger: Logger;
  functions: HttpFunction[];
  routePrefix: string;
  maxBodyBytes: number;
  /** FUNCTIONS_KEY; undefined: keys are not checked. */
  functionKey: string | undefined;
  /** FUNCTIONS_MASTER_KEY; accepted for every auth level. */
  masterKey: string | undefined;
  /** Requests wait for this (appStart hooks) before reaching a function. */
  ready: Promise<void>;
}

export class PortInUseError extends Error {
  override name = 'PortInUseError';
  readonly code = 'EADDRINUSE';
  constructor(readonly port: number) {
    super(`Port ${port} is already in use; set FUNCTIONS_HTTP_PORT to another port.`);
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

class BodyTooLargeError extends HttpError {
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
function discardRest(req: http.IncomingMessage): void {
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

function keyMatches(candidate: string | undefined, key: string | undefined): boolean {
  if (candidate === undefined || key === undefined) return false;
  const a = Buffer.from(candidate);
  const b = Buffer.from(key);
  return a.length === b.length && timingSafeEqual(a, b);
}

function headerRecord(req: http.IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
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

function serializeCookie(cookie: azf.Cookie): string {
  let out = `${cookie.name}=${cookie.value}`;
  if (cookie.domain) out += `; Domain=${cookie.domain}`;
  if (cookie.path) out += `; Path=${cookie.path}`;
  if (cookie.expires !== undefined) {
    const expires = cookie.expires instanceof Date ? cookie.expires : new Date(cookie.expires);
    out += `; Expires=${expires.toUTCString()}`;
  }
  if (cookie.maxAge !== undefined) out += `; Max-Age=${cookie.maxAge}`;
  if (cookie.secure) out += '; Secure';
  if (cookie.httpOnly) out += '; HttpOnly';
  if (cookie.sameSite) out += `; SameSite=${cookie.sameSite}`;
  return out;
}

/** The request path for logs, with the `code` (function key) query value hidden. */
function redactedPath(rawUrl: string | undefined): string {
  const raw = rawUrl ?? '';
  return raw.replace(/([?&]code=)[^&#]*/gi, '$1***');
}

function isStreamBody(body: unknown): boolean {
  if (body === null || typeof body !== 'object') return false;
  if (body instanceof ReadableStream || body instanceof Readable) return true;
  return Symbol.asyncIterator in body;
}

export class LocalHttpServer {
  readonly #opts: HttpServerOptions;
  readonly #server: http.Server;
  readonly #routes: HttpFunction[];
  #port = 0;

  constructor(opts: HttpServerOptions) {
    this.#opts = opts;
    this.#routes = [...opts.functions].sort((a, b) => a.template.compare(b.template));
    this.#server = http.createServer((req, res) => {
      void this.#handle(req, res);
    });
    // Slow clients should not keep the process alive forever.
    this.#server.headersTimeout = 60_000;
    this.#server.requestTimeout = 300_000;
  }

  get port(): number {
    return this.#port;
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        this.#server.off('listening', onListening);
        reject(err.code === 'EADDRINUSE' ? new PortInUseError(port) : err);
      };
      const onListening = (): void => {
        this.#server.off('error', onError);
        this.#port = (this.#server.address() as AddressInfo).port;
        resolve(this.#port);
      };
      this.#server.once('error', onError);
      this.#server.once('listening', onListening);
      this.#server.listen(port, host);
    });
  }

  /** Stops accepting connections, lets in-flight requests finish (up to `timeoutMs`), then closes. */
  async close(timeoutMs: number): Promise<void> {
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    const timer = setTimeout(() => this.#server.closeAllConnections(), timeoutMs);
    timer.unref();
    await closed;
    clearTimeout(timer);
  }

  /** Path segments after the route prefix, or undefined when the path is outside it. */
  #segmentsAfterPrefix(pathname: string): string[] | undefined | 'malformed' {
    const segments = splitPath(pathname);
    if (!segments) return 'malformed';
    const prefix = this.#opts.routePrefix === '' ? [] : this.#opts.routePrefix.split('/');
    if (segments.length < prefix.length) return undefined;
    for (const [i, part] of prefix.entries()) {
      if (segments[i]?.toLowerCase() !== part.toLowerCase()) return undefined;
    }
    return segments.slice(prefix.length);
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const started = performance.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const { logger } = this.#opts;
    let functionName: string | undefined;
    logger.watch(requestId);
    res.once('finish', () => {
      const ms = Math.round(performance.now() - started);
      // One line per request: this access line only when the function did not log its own.
      const level = logger.stopWatching(requestId) ? 'debug' : 'information';
      logger.log(level, `${method} ${redactedPath(req.url)} -> ${res.statusCode} (${ms} ms)`, {
        invocationId: requestId,
        functionName,
      });
    });
    res.once('close', () => void logger.stopWatching(requestId)); // aborted: no 'finish'

    try {
      const hostHeader = req.headers.host ?? `127.0.0.1:${this.#port}`;
      let url: URL;
      try {
        url = new URL(req.url ?? '/', `http://${hostHeader}`);
      } catch {
        throw new HttpError(400, 'Bad request URL.');
      }

      const segments = this.#segmentsAfterPrefix(url.pathname);
      if (segments === 'malformed') throw new HttpError(400, 'Malformed URL path.');
      const candidates: { fn: HttpFunction; params: Record<string, string> }[] = [];
      for (const route of segments === undefined ? [] : this.#routes) {
        const match = route.template.match(segments ?? []);
        if (match) candidates.push({ fn: route, params: match.params });
      }
      if (candidates.length === 0) {
        if (url.pathname === '/' && (method === 'GET' || method === 'HEAD')) {
          // Like the real host's root page: lets health checks see that the host is up.
          this.#sendText(res, 200, 'Local Functions host is running.', method);
          return;
        }
        throw new HttpError(404, 'Not Found');
      }
      const chosen = candidates.find((c) => c.fn.methods.includes(method));
      if (!chosen) {
        const allow = [...new Set(candidates.flatMap((c) => c.fn.methods))].join(', ');
        throw new HttpError(405, 'Method Not Allowed', { allow });
      }
      functionName = chosen.fn.name;
      this.#authorize(req, url, chosen.fn.authLevel);

      let body: Buffer | undefined;
      if (method !== 'GET' && method !== 'HEAD') {
        const declared = req.headers['content-length'];
        if (declared !== undefined && Number(declared) > this.#opts.maxBodyBytes) {
          throw new BodyTooLargeError(this.#opts.maxBodyBytes);
        }
        body = await readBody(req, this.#opts.maxBodyBytes);
      } else {
        req.resume();
      }

      await this.#opts.ready;
      await this.#invoke(chosen.fn, chosen.params, req, res, url, method, body, requestId);
    } catch (err) {
      if (err instanceof HttpError) {
        if (!res.headersSent) {
          for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
          const declared = req.headers['content-length'];
          const bigOrUnknown =
            declared !== undefined
              ? Number(declared) > this.#opts.maxBodyBytes
              : req.headers['transfer-encoding'] !== undefined;
          if (!req.complete && bigOrUnknown) {
            // A large or unknown-size body is left: do not keep this connection.
            res.setHeader('connection', 'close');
            discardRest(req);
          }
          this.#sendText(res, err.status, err.message, method);
        }
        return;
      }
      logger.error(`Request failed: ${String(err)}`, { invocationId: requestId, functionName });
      this.#fail(res, method);
    }
  }

  #authorize(req: http.IncomingMessage, url: URL, level: AuthLevel): void {
    if (level === 'anonymous') return;
    const { functionKey, masterKey } = this.#opts;
    if (functionKey === undefined && masterKey === undefined) return;
    const header = req.headers['x-functions-key'];
    const provided =
      (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('code') ?? undefined;
    const ok =
      keyMatches(provided, masterKey) ||
      (level === 'function' && keyMatches(provided, functionKey)) ||
      (level === 'admin' && masterKey === undefined && keyMatches(provided, functionKey));
    if (!ok) throw new HttpError(401, 'Unauthorized');
  }

  async #invoke(
    fn: HttpFunction,
    params: Record<string, string>,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    method: string,
    body: Buffer | undefined,
    invocationId: string,
  ): Promise<void> {
    const { azf, invoker, logger } = this.#opts;
    const request = new azf.HttpRequest({
      method,
      url: url.href,
      headers: headerRecord(req),
      params,
      body: body && body.length > 0 ? { bytes: body } : undefined,
    });
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const context = invoker.createContext(fn.fn, {
      invocationId,
      traceParent: header('traceparent'),
      traceState: header('tracestate'),
    });
    let result: unknown;
    try {
      result = await invoker.invoke(fn.fn, [request], context, `HTTP ${method} ${url.pathname}`);
    } catch {
      // Already logged with the invocation id; the client gets nothing from the error.
      this.#fail(res, method);
      return;
    }
    try {
      await this.#writeResult(res, result, method);
    } catch (err) {
      logger.error(`Could not send the response of '${fn.name}': ${String(err)}`, {
        invocationId,
        functionName: fn.name,
      });
      if (res.headersSent) {
        res.destroy();
      } else {
        this.#fail(res, method);
      }
    }
  }

  async #writeResult(res: http.ServerResponse, result: unknown, method: string): Promise<void> {
    const { azf } = this.#opts;
    if (result === undefined || result === null) {
      res.writeHead(204);
      res.end();
      return;
    }
    if (typeof result !== 'object') {
      throw new TypeError(
        'The HTTP response must be an object with optional properties "body", "status", "headers", "cookies" and "jsonBody".',
      );
    }
    const isResponse = result instanceof azf.HttpResponse;
    const response = isResponse ? result : new azf.HttpResponse(result as azf.HttpResponseInit);
    const streaming = isResponse || isStreamBody((result as azf.HttpResponseInit).body);

    const headers: [string, string][] = [];
    for (const [name, value] of response.headers) {
      if (name.toLowerCase() !== 'set-cookie') headers.push([name, value]);
    }
    const cookies = [...response.headers.getSetCookie(), ...response.cookies.map(serializeCookie)];
    const noBody = method === 'HEAD' || [204, 205, 304].includes(response.status) || response.body === null;

    if (!streaming || noBody) {
      const bytes = noBody ? Buffer.alloc(0) : Buffer.from(await response.arrayBuffer());
      res.statusCode = response.status;
      for (const [name, value] of headers) res.setHeader(name, value);
      if (cookies.length > 0) res.setHeader('set-cookie', cookies);
      if (![204, 304].includes(response.status)) res.setHeader('content-length', bytes.length);
      res.end(method === 'HEAD' ? undefined : bytes);
      return;
    }
    res.statusCode = response.status;
    for (const [name, value] of headers) res.setHeader(name, value);
    if (cookies.length > 0) res.setHeader('set-cookie', cookies);
    const body = response.body;
    if (!body) {
      res.end();
      return;
    }
    await pipeline(Readable.fromWeb(body as import('node:stream/web').ReadableStream), res);
  }

  #sendText(res: http.ServerResponse, status: number, text: string, method: string): void {
    res.statusCode = status;
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.setHeader('content-length', Buffer.byteLength(text));
    res.end(method === 'HEAD' ? undefined : text);
  }

  #fail(res: http.ServerResponse, method: string): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    this.#sendText(res, 500, 'Internal Server Error', method);
  }
}
