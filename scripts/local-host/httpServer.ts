/**
 * HTTP triggers: routing (host.json route prefix + route templates), method filter, function keys
 * and a request body limit. The function itself runs in the worker (workerHost.ts); this side turns
 * node:http requests into what it needs and sends back what it answered.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BodyTooLargeError,
  discardRest,
  headerRecord,
  HttpError,
  keyMatches,
  readBody,
  redactedPath,
} from './httpIo.js';
import type { WireHttpRequest, WireHttpResponse } from './ipc.js';
import type { Logger } from './logger.js';
import { RouteTemplate, splitPath } from './routes.js';

export type AuthLevel = 'anonymous' | 'function' | 'admin';

export interface HttpFunction {
  name: string;
  /** Upper-case methods. */
  methods: string[];
  /** Route without the prefix, e.g. "notifications/{id}". */
  route: string;
  authLevel: AuthLevel;
  template: RouteTemplate;
}

/** Runs an HTTP function; rejects when it failed (the client gets a generic 500). */
export type HttpInvoke = (
  fn: HttpFunction,
  request: WireHttpRequest,
  invocationId: string,
) => Promise<WireHttpResponse>;

export interface HttpServerOptions {
  invoke: HttpInvoke;
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
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    let answer: WireHttpResponse;
    try {
      answer = await this.#opts.invoke(
        fn,
        {
          method,
          url: url.href,
          headers: headerRecord(req),
          params,
          body: body && body.length > 0 ? new Uint8Array(body) : undefined,
          traceParent: header('traceparent'),
          traceState: header('tracestate'),
        },
        invocationId,
      );
    } catch {
      // Already logged with the invocation id; the client gets nothing from the error.
      this.#fail(res, method);
      return;
    }
    res.statusCode = answer.status;
    for (const [name, value] of answer.headers) res.setHeader(name, value);
    if (answer.cookies.length > 0) res.setHeader('set-cookie', answer.cookies);
    res.end(method === 'HEAD' || !answer.body ? undefined : Buffer.from(answer.body));
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
