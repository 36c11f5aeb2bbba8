/**
 * A Teams-flavoured Bot Connector (the service behind an activity's serviceUrl) for fault-injection
 * tests and benchmarks. It speaks the Bot Connector v3 REST shapes Teams uses for 1:1 proactive
 * messages, throttles like Teams, answers with the error codes Microsoft documents for Teams bots,
 * and records everything it was sent.
 *
 * This file is the HTTP server and the order a request goes through (auth, faults, throttling, the
 * operation); its parts are in fakeConnector/: routes.ts (what a request names), conversations.ts
 * and roster.ts (the operations), faults.ts, rateLimits.ts, recording.ts, teamsErrors.ts.
 *
 * Kept free of vitest imports so a plain Node process (e.g. a soak-test harness) can host it.
 * The request path is deliberately cheap (no logging, O(1) throttling per window) so "instant"
 * benchmarks measure the bot, not the fake.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createConversations,
  type AcceptedActivity,
  type DeletedActivity,
  type FakeConversation,
} from './fakeConnector/conversations.js';
import {
  createFaultInjector,
  faultKind,
  faultReply,
  isHang,
  type ErrorFault,
  type Fault,
  type RandomFaults,
  type RequestMatcher,
} from './fakeConnector/faults.js';
import { createThrottle, rateLimitsOf, type RateLimits } from './fakeConnector/rateLimits.js';
import { createRecording, type CallRecord } from './fakeConnector/recording.js';
import type { TeamsMember } from './fakeConnector/roster.js';
import { isMessagePost, normalBasePath, parsePath, type ConnectorRequest } from './fakeConnector/routes.js';
import { errorReply, type Reply } from './fakeConnector/teamsErrors.js';

export type { AcceptedActivity, DeletedActivity, FakeConversation } from './fakeConnector/conversations.js';
export {
  seededRandom,
  type ErrorFault,
  type Fault,
  type HangFault,
  type RandomFaults,
  type RequestMatcher,
} from './fakeConnector/faults.js';
export type { RateLimits, RateWindow } from './fakeConnector/rateLimits.js';
export type { CallRecord } from './fakeConnector/recording.js';
export type { TeamsMember } from './fakeConnector/roster.js';
export type { ConnectorRequest, Route } from './fakeConnector/routes.js';
export { TEAMS_ERROR_STATUS, type TeamsErrorCode } from './fakeConnector/teamsErrors.js';

export interface FakeConnectorOptions {
  /** Path part of the serviceUrl, like Teams' regional '/amer/'. Requests outside it get 404. Default '/'. */
  basePath?: string;
  /** Added before every answer: fixed ms, or a function for jitter. Default 0. */
  latencyMs?: number | (() => number);
  /** Teams-like throttling (defaults: 50/s per app per tenant, 7/s per conversation); false disables it. */
  rateLimits?: Partial<RateLimits> | false;
  /** If set, only these user IDs can get a 1:1 conversation; others get unknownMemberFault. */
  knownMembers?: Iterable<string>;
  /** Default 403 BotNotInConversationRoster (the app is not installed for that user). */
  unknownMemberFault?: ErrorFault;
  /** Activity request bodies larger than this answer 413 MessageSizeTooBig. Default 28 KiB (Teams' ~28 KB message limit). */
  maxActivityBytes?: number;
  /** Answer 401 to requests without a Bearer token. Default false. */
  requireAuth?: boolean;
  /** Keep every call in `calls`; turn off for long soaks (counters and `accepted` are always kept). Default true. */
  recordCalls?: boolean;
}

export interface FakeConnector {
  /** The serviceUrl to give the bot, with a trailing slash, e.g. http://127.0.0.1:1234/ */
  url: string;
  calls: CallRecord[];
  accepted: AcceptedActivity[];
  /** Successful PUTs of a message (the body that replaced it), in order. */
  updated: AcceptedActivity[];
  /** Successful DELETEs of a message, in order; a deleted message can be neither updated nor deleted again. */
  deleted: DeletedActivity[];
  conversations: Map<string, FakeConversation>;
  /** Answered requests by HTTP status (0 = connection dropped). */
  byStatus: Record<number, number>;
  /**
   * Injected faults by kind, e.g. `random:503`, `random:429` (with Retry-After), `random:429-no-retry-after`,
   * `random:timeout`, `random:403`, `random:404`, `script:…`, `throttle:429`. Kept even with `recordCalls` off.
   */
  faults: Record<string, number>;
  /** Force the next `times` requests that match to get `fault` (first matching entry wins). */
  script(match: RequestMatcher, fault: Fault, times?: number): void;
  /** Scripted answers not yet used. */
  pendingScript(): number;
  setRandomFaults(faults: RandomFaults | undefined): void;
  /** Members returned for a conversation or team ID (a team's ID is its General channel's conversation ID). */
  setRoster(teamOrConversationId: string, members: TeamsMember[]): void;
  setKnownMembers(userIds: Iterable<string> | undefined): void;
  /** Make a conversation the fake did not create (e.g. one from an install event) accept messages. */
  registerConversation(id: string, init?: Partial<Omit<FakeConversation, 'id' | 'createCount'>>): void;
  /** The ID createConversation returns for this user: stable per tenant, user and bot, like Teams. */
  conversationIdFor(tenantId: string, userId: string, botId?: string): string;
  /** Back to a freshly started state (options kept). */
  reset(): void;
  stop(): Promise<void>;
}

export async function startFakeConnector(opts: FakeConnectorOptions = {}): Promise<FakeConnector> {
  const basePath = normalBasePath(opts.basePath);
  const limits = rateLimitsOf(opts.rateLimits);
  const latency = opts.latencyMs ?? 0;
  const state = createConversations({
    maxActivityBytes: opts.maxActivityBytes ?? 28 * 1024,
    knownMembers: opts.knownMembers,
    unknownMemberFault: opts.unknownMemberFault ?? { status: 403, code: 'BotNotInConversationRoster' },
  });
  const recording = createRecording(opts.recordCalls ?? true);
  const injector = createFaultInjector();
  const throttle = createThrottle(limits);
  const timers = new Set<NodeJS.Timeout>();

  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  function write(res: ServerResponse, record: CallRecord, reply: Reply, extraDelayMs = 0): void {
    const delay = extraDelayMs + (typeof latency === 'function' ? latency() : latency);
    const send = (): void => {
      recording.answered(record, reply.status);
      if (res.destroyed) return;
      const json = reply.body === undefined ? '' : JSON.stringify(reply.body);
      res.writeHead(reply.status, {
        ...reply.headers,
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(json),
      });
      res.end(json);
    };
    if (delay > 0) later(delay, send);
    else send();
  }

  function handle(req: IncomingMessage, res: ServerResponse, raw: Buffer): void {
    const method = req.method ?? 'GET';
    const p = parsePath(basePath, req.url ?? '/', method) ?? {
      route: 'unknown' as const,
      path: req.url ?? '/',
      query: new URLSearchParams(),
    };
    let body: unknown;
    let badJson = false;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        badJson = true;
      }
    }
    const request: ConnectorRequest = {
      method,
      path: p.path,
      route: p.route,
      conversationId: p.conversationId,
      body,
      headers: req.headers,
    };
    const record = recording.arrived(request);

    if (opts.requireAuth && !req.headers.authorization?.startsWith('Bearer ')) {
      record.fault = 'auth';
      return write(
        res,
        record,
        errorReply(401, 'Unauthorized', 'Authorization has been denied for this request.'),
      );
    }

    const injected = injector.next(request);
    if (injected) {
      const { fault, source } = injected;
      record.fault = source;
      recording.countFault(`${source}:${faultKind(fault)}`);
      if (isHang(fault)) {
        const { then = 'drop' } = fault;
        return later(fault.hangMs, () => {
          if (then === 'deliver') return write(res, record, state.handle(p, body, raw.length));
          recording.answered(record, 0);
          res.destroy();
        });
      }
      if (fault.deliver) state.handle(p, body, raw.length);
      return write(res, record, faultReply(fault), fault.delayMs);
    }

    const wait = throttle.admit({
      headers: req.headers,
      tenant: state.tenantFor(p, body),
      conversationId: p.conversationId,
      post: isMessagePost(p.route),
    });
    if (wait > 0) {
      record.fault = 'throttle';
      recording.countFault('throttle:429');
      const retryAfter = limits && limits.retryAfter ? Math.max(1, Math.ceil(wait / 1000)) : null;
      return write(
        res,
        record,
        faultReply({
          status: 429,
          retryAfter,
          message: 'Too many requests. Please retry after the time given in Retry-After.',
        }),
      );
    }
    if (badJson)
      return write(res, record, errorReply(400, 'BadSyntax', 'The request body is not valid JSON.'));
    write(res, record, state.handle(p, body, raw.length));
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, res, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const connector: FakeConnector = {
    url: `http://127.0.0.1:${port}${basePath}`,
    calls: recording.calls,
    accepted: state.accepted,
    updated: state.updated,
    deleted: state.deleted,
    conversations: state.conversations,
    byStatus: recording.byStatus,
    faults: recording.faults,
    script: injector.script,
    pendingScript: injector.pendingScript,
    setRandomFaults: injector.setRandomFaults,
    setRoster: state.setRoster,
    setKnownMembers: state.setKnownMembers,
    registerConversation: state.registerConversation,
    conversationIdFor: state.conversationIdFor,
    reset() {
      // Pending (delayed or hanging) answers still go out, but into the old records.
      // New arrays/objects, so records still held by a test are not mutated under it.
      recording.reset();
      state.reset();
      injector.reset();
      throttle.reset();
      connector.calls = recording.calls;
      connector.accepted = state.accepted;
      connector.updated = state.updated;
      connector.deleted = state.deleted;
      connector.byStatus = recording.byStatus;
      connector.faults = recording.faults;
    },
    stop() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
  };
  return connector;
}
