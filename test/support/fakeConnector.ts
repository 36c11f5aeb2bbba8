/**
 * A Teams-flavoured Bot Connector (the service behind an activity's serviceUrl) for fault-injection
 * tests and benchmarks. It speaks the Bot Connector v3 REST shapes Teams uses for 1:1 proactive
 * messages, throttles like Teams, answers with the error codes Microsoft documents for Teams bots,
 * and records everything it was sent.
 *
 * Kept free of vitest imports so a plain Node process (e.g. a soak-test harness) can host it.
 * The request path is deliberately cheap (no logging, O(1) throttling per window) so "instant"
 * benchmarks measure the bot, not the fake.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** HTTP status of each error code Microsoft documents for Teams bot conversational APIs (plus the generic ones). */
export const TEAMS_ERROR_STATUS = {
  BadArgument: 400,
  Unauthorized: 401,
  ConversationBlockedByUser: 403,
  BotNotInConversationRoster: 403,
  BotDisabledByAdmin: 403,
  ForbiddenOperationException: 403,
  ConversationNotFound: 404,
  MemberNotFoundInConversation: 404,
  ActivityNotFoundInConversation: 404,
  PreconditionFailed: 412,
  MessageSizeTooBig: 413,
  TooManyRequests: 429,
  InternalServerError: 500,
  BadGateway: 502,
  ServiceUnavailable: 503,
  GatewayTimeout: 504,
} as const;
export type TeamsErrorCode = keyof typeof TEAMS_ERROR_STATUS;

const DEFAULT_CODE: Record<number, TeamsErrorCode> = {
  400: 'BadArgument',
  401: 'Unauthorized',
  403: 'ForbiddenOperationException',
  404: 'ConversationNotFound',
  412: 'PreconditionFailed',
  413: 'MessageSizeTooBig',
  429: 'TooManyRequests',
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};
const FORBIDDEN_CODES: TeamsErrorCode[] = [
  'ConversationBlockedByUser',
  'BotNotInConversationRoster',
  'BotDisabledByAdmin',
  'ForbiddenOperationException',
];
const SERVER_ERRORS = [500, 502, 503, 504];

export type Route =
  | 'createConversation'
  | 'sendActivity'
  | 'replyToActivity'
  | 'updateActivity'
  | 'deleteActivity'
  | 'getMembers'
  | 'getMember'
  | 'getPagedMembers'
  | 'unknown';

/** What matchers see of a request. */
export interface ConnectorRequest {
  method: string;
  /** Path relative to the serviceUrl, e.g. /v3/conversations/a:1xyz/activities (decoded). */
  path: string;
  route: Route;
  conversationId?: string;
  body: unknown;
  headers: IncomingHttpHeaders;
}

/** A route name, 'send' (sendActivity or replyToActivity), 'any', or a predicate. */
export type RequestMatcher = Route | 'send' | 'any' | ((req: ConnectorRequest) => boolean);

/** Answer with an HTTP error. */
export interface ErrorFault {
  status: number;
  /** `error.code` in the body; defaults from the status (429 → TooManyRequests, ...). */
  code?: string;
  message?: string;
  /** Retry-After in seconds. 429 defaults to 1; null (or absent on other statuses) sends none. */
  retryAfter?: number | null;
  headers?: Record<string, string>;
  /** Replaces the `{ error: { code, message } }` body. */
  body?: unknown;
  /** Extra wait before answering. */
  delayMs?: number;
  /** Handle the request for real first (e.g. the message IS posted), then still answer with this error. */
  deliver?: boolean;
}

/** Never answer in time: after hangMs drop the connection, or handle the request late ('deliver'). */
export interface HangFault {
  hangMs: number;
  then?: 'drop' | 'deliver';
}

export type Fault = ErrorFault | HangFault;

/** Independent probabilities (summed, so keep the total ≤ 1), drawn from a seeded RNG per request. */
export interface RandomFaults {
  seed?: number;
  /** 500/502/503/504, picked uniformly. */
  p5xx?: number;
  p429WithRetryAfter?: number;
  p429NoRetryAfter?: number;
  /** Hang for timeoutMs, then drop the connection. */
  pTimeout?: number;
  /** One of the documented 403 codes, picked uniformly. */
  p403?: number;
  /** 404 ConversationNotFound; only drawn for requests addressed to a conversation (as in Teams). */
  p404?: number;
  /** Default 15 000. */
  timeoutMs?: number;
  /** Which requests may fail; default 'any'. */
  match?: RequestMatcher;
}

export interface RateWindow {
  limit: number;
  windowMs: number;
}

export interface RateLimits {
  /** All requests of one bot app (token appid/azp) in one tenant. Teams: 50 per second. */
  perAppTenant: RateWindow[];
  /** Message posts (send, reply, update, delete) into one conversation. Teams: 7 per second. */
  perConversation: RateWindow[];
  /** Send Retry-After on throttling 429s. */
  retryAfter: boolean;
}

/**
 * A roster entry as the Bot Connector REST API answers `GET /v3/conversations/{id}/members`,
 * `/members/{id}` and `/pagedmembers`: the Entra object ID is `objectId` (activities call it
 * `aadObjectId`), and anonymous meeting guests come with `userRole: "anonymous"` and no objectId,
 * email or UPN. Shape from https://learn.microsoft.com/microsoftteams/platform/bots/how-to/get-teams-context
 * ("Fetch the roster or user profile" and "Get single member details", JSON tabs).
 */
export interface TeamsMember {
  id: string;
  name?: string;
  objectId?: string;
  email?: string;
  userPrincipalName?: string;
  tenantId?: string;
  userRole?: 'user' | 'anonymous' | 'guest' | 'bot';
  givenName?: string;
  surname?: string;
}

export interface FakeConversation {
  id: string;
  tenantId?: string;
  botId?: string;
  members: TeamsMember[];
  /** How many createConversation calls answered with this ID. 0 if registered by the test. */
  createCount: number;
}

export interface CallRecord {
  seq: number;
  /** Arrival, ms since epoch. */
  at: number;
  method: string;
  path: string;
  route: Route;
  conversationId?: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  /** 0 while pending, and for dropped connections. */
  status: number;
  /** Why it did not get the normal answer. */
  fault?: 'script' | 'random' | 'throttle' | 'auth';
}

export interface AcceptedActivity {
  seq: number;
  at: number;
  conversationId: string;
  activityId: string;
  replyToId?: string;
  body: Record<string, unknown>;
}

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
  deleted: Array<{ seq: number; at: number; conversationId: string; activityId: string }>;
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

interface ParsedPath {
  route: Route;
  path: string;
  conversationId?: string;
  activityId?: string;
  memberId?: string;
  query: URLSearchParams;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * Remembers the last `limit` admitted timestamps in a ring: the slot about to be overwritten is the
 * oldest, so "is the window full?" is one comparison and admitting is one write.
 */
class SlidingWindow {
  private readonly stamps: Float64Array;
  private readonly windowMs: number;
  private next = 0;
  // No parameter properties: Node's built-in type stripping can then load this file as is.
  constructor(window: RateWindow) {
    this.stamps = new Float64Array(Math.max(1, window.limit)).fill(Number.NEGATIVE_INFINITY);
    this.windowMs = window.windowMs;
  }
  /** ms until a slot frees; 0 if one is free now. */
  waitMs(now: number): number {
    return Math.max(0, this.stamps[this.next]! + this.windowMs - now);
  }
  admit(now: number): void {
    this.stamps[this.next] = now;
    this.next = (this.next + 1) % this.stamps.length;
  }
}

/** mulberry32: tiny seeded PRNG so random-fault runs are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function isHang(fault: Fault): fault is HangFault {
  return 'hangMs' in fault;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function errorReply(status: number, code: string, message: string): Reply {
  return { status, body: { error: { code, message } } };
}

function faultReply(f: ErrorFault): Reply {
  const code = f.code ?? DEFAULT_CODE[f.status] ?? 'ServiceError';
  const headers: Record<string, string> = { ...f.headers };
  const retryAfter = f.retryAfter === undefined ? (f.status === 429 ? 1 : null) : f.retryAfter;
  if (retryAfter !== null) headers['retry-after'] = String(retryAfter);
  return {
    status: f.status,
    headers,
    body: f.body ?? { error: { code, message: f.message ?? `Injected ${code}.` } },
  };
}

function matches(m: RequestMatcher, req: ConnectorRequest): boolean {
  if (typeof m === 'function') return m(req);
  if (m === 'any') return true;
  if (m === 'send') return req.route === 'sendActivity' || req.route === 'replyToActivity';
  return req.route === m;
}

const DEFAULT_LIMITS: RateLimits = {
  perAppTenant: [{ limit: 50, windowMs: 1000 }],
  perConversation: [{ limit: 7, windowMs: 1000 }],
  retryAfter: true,
};

export async function startFakeConnector(opts: FakeConnectorOptions = {}): Promise<FakeConnector> {
  const basePath = `/${(opts.basePath ?? '/').replace(/^\/+|\/+$/g, '')}/`.replace('//', '/');
  const limits: RateLimits | false =
    opts.rateLimits === false ? false : { ...DEFAULT_LIMITS, ...opts.rateLimits };
  const maxActivityBytes = opts.maxActivityBytes ?? 28 * 1024;
  const recordCalls = opts.recordCalls ?? true;
  const unknownMemberFault = opts.unknownMemberFault ?? { status: 403, code: 'BotNotInConversationRoster' };
  const latency = opts.latencyMs ?? 0;

  // Mutable state, all of it cleared by reset().
  let calls: CallRecord[] = [];
  let accepted: AcceptedActivity[] = [];
  let updated: AcceptedActivity[] = [];
  let deleted: FakeConnector['deleted'] = [];
  // Messages that exist now, by conversation: what PUT and DELETE may name.
  const live = new Map<string, Set<string>>();
  let byStatus: Record<number, number> = {};
  let faults: Record<string, number> = {};
  const countFault = (kind: string): void => {
    faults[kind] = (faults[kind] ?? 0) + 1;
  };
  const conversations = new Map<string, FakeConversation>();
  const rosters = new Map<string, TeamsMember[]>();
  const windows = new Map<string, SlidingWindow[]>();
  let scripted: { match: RequestMatcher; fault: Fault; remaining: number }[] = [];
  let random: { faults: RandomFaults; next: () => number } | undefined;
  let knownMembers = opts.knownMembers ? new Set(opts.knownMembers) : undefined;
  let seq = 0;
  let activitySeq = 0;
  const activityIdBase = Date.now();
  const timers = new Set<NodeJS.Timeout>();
  const appIdCache = new Map<string, string>();

  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const conversationIdFor = (tenantId: string, userId: string, botId = ''): string =>
    `a:1${createHash('sha256').update(`${tenantId}|${userId}|${botId}`).digest('base64url').slice(0, 43)}`;

  function parsePath(rawUrl: string, method: string): ParsedPath | undefined {
    const q = rawUrl.indexOf('?');
    let path = (q < 0 ? rawUrl : rawUrl.slice(0, q)).replace(/\/{2,}/g, '/');
    if (!path.startsWith(basePath)) return undefined;
    path = path.slice(basePath.length - 1);
    const query = new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1));
    let seg: string[];
    try {
      seg = path.split('/').slice(1).map(decodeURIComponent);
    } catch {
      return undefined;
    }
    const decoded = '/' + seg.join('/');
    const parsed: ParsedPath = { route: 'unknown', path: decoded, query };
    if (seg[0] !== 'v3' || seg[1] !== 'conversations') return parsed;
    if (seg.length === 2) {
      if (method === 'POST') parsed.route = 'createConversation';
      return parsed;
    }
    parsed.conversationId = seg[2];
    const [, , , kind, sub, extra] = seg;
    if (extra !== undefined) return parsed;
    if (kind === 'activities' && sub === undefined && method === 'POST') parsed.route = 'sendActivity';
    else if (kind === 'activities' && sub !== undefined) {
      parsed.activityId = sub;
      if (method === 'POST') parsed.route = 'replyToActivity';
      else if (method === 'PUT') parsed.route = 'updateActivity';
      else if (method === 'DELETE') parsed.route = 'deleteActivity';
    } else if (kind === 'members' && method === 'GET') {
      parsed.route = sub === undefined ? 'getMembers' : 'getMember';
      parsed.memberId = sub;
    } else if (kind === 'pagedmembers' && sub === undefined && method === 'GET')
      parsed.route = 'getPagedMembers';
    return parsed;
  }

  /** The calling bot, from its token's appid/azp; only used to key throttling. */
  function appIdOf(headers: IncomingHttpHeaders): string {
    const auth = headers.authorization;
    if (!auth) return 'anonymous';
    let app = appIdCache.get(auth);
    if (app === undefined) {
      app = 'anonymous';
      try {
        const payload: unknown = JSON.parse(
          Buffer.from(auth.split('.')[1] ?? '', 'base64url').toString('utf8'),
        );
        if (isRecord(payload)) app = String(payload.appid ?? payload.azp ?? app);
      } catch {
        // Not a JWT; every such caller shares one bucket.
      }
      if (appIdCache.size > 1000) appIdCache.clear();
      appIdCache.set(auth, app);
    }
    return app;
  }

  function windowsFor(key: string, spec: RateWindow[]): SlidingWindow[] {
    let w = windows.get(key);
    if (!w) {
      w = spec.map((s) => new SlidingWindow(s));
      windows.set(key, w);
    }
    return w;
  }

  /** Teams-like throttling: ms to wait, or 0 after admitting the request into every window. */
  function throttle(req: ConnectorRequest, p: ParsedPath): number {
    if (!limits) return 0;
    const app = appIdOf(req.headers);
    const tenant =
      p.route === 'createConversation'
        ? String(tenantOf(req.body) ?? 'unknown')
        : (conversations.get(p.conversationId ?? '')?.tenantId ?? 'unknown');
    const tenantWindows = windowsFor(`t|${app}|${tenant}`, limits.perAppTenant);
    const posts =
      p.route === 'sendActivity' ||
      p.route === 'replyToActivity' ||
      p.route === 'updateActivity' ||
      p.route === 'deleteActivity';
    const convWindows = posts ? windowsFor(`c|${app}|${p.conversationId}`, limits.perConversation) : [];
    const now = performance.now();
    let wait = 0;
    for (const w of tenantWindows) wait = Math.max(wait, w.waitMs(now));
    for (const w of convWindows) wait = Math.max(wait, w.waitMs(now));
    if (wait > 0) return wait;
    for (const w of tenantWindows) w.admit(now);
    for (const w of convWindows) w.admit(now);
    return 0;
  }

  function takeScripted(req: ConnectorRequest): Fault | undefined {
    for (let i = 0; i < scripted.length; i++) {
      const entry = scripted[i]!;
      if (!matches(entry.match, req)) continue;
      if (--entry.remaining <= 0) scripted.splice(i, 1);
      return entry.fault;
    }
    return undefined;
  }

  function drawRandom(req: ConnectorRequest): Fault | undefined {
    if (!random || !matches(random.faults.match ?? 'any', req)) return undefined;
    const f = random.faults;
    const pick = <T>(items: T[]): T => items[Math.floor(random!.next() * items.length)]!;
    const r = random.next();
    let edge = 0;
    if (r < (edge += f.p5xx ?? 0)) return { status: pick(SERVER_ERRORS) };
    if (r < (edge += f.p429WithRetryAfter ?? 0)) return { status: 429, retryAfter: 1 };
    if (r < (edge += f.p429NoRetryAfter ?? 0)) return { status: 429, retryAfter: null };
    if (r < (edge += f.pTimeout ?? 0)) return { hangMs: f.timeoutMs ?? 15_000, then: 'drop' };
    if (r < (edge += f.p403 ?? 0)) return { status: 403, code: pick(FORBIDDEN_CODES) };
    if (r < (edge += f.p404 ?? 0) && req.conversationId !== undefined)
      return { status: 404, code: 'ConversationNotFound' };
    return undefined;
  }

  // ---- The Bot Connector operations -------------------------------------------------------------

  function tenantOf(body: unknown): unknown {
    if (!isRecord(body)) return undefined;
    const channelData = isRecord(body.channelData) ? body.channelData : {};
    const tenant = isRecord(channelData.tenant) ? channelData.tenant : {};
    return tenant.id ?? body.tenantId;
  }

  function createConversation(body: unknown): Reply {
    const members = isRecord(body) && Array.isArray(body.members) ? (body.members as unknown[]) : [];
    const member = members[0];
    if (!isRecord(body) || members.length !== 1 || !isRecord(member) || typeof member.id !== 'string') {
      return errorReply(400, 'BadArgument', 'A 1:1 conversation needs exactly one member with an id.');
    }
    if (body.isGroup === true) return errorReply(400, 'BadArgument', 'Bots cannot create group chats.');
    const tenantId = tenantOf(body);
    if (typeof tenantId !== 'string' || !tenantId)
      return errorReply(400, 'BadArgument', 'Tenant ID is required.');
    if (knownMembers && !knownMembers.has(member.id)) return faultReply(unknownMemberFault);
    const botId = isRecord(body.bot) && typeof body.bot.id === 'string' ? body.bot.id : undefined;
    const id = conversationIdFor(tenantId, member.id, botId);
    let conversation = conversations.get(id);
    if (!conversation) {
      conversation = {
        id,
        tenantId,
        botId,
        members: [{ ...(member as unknown as TeamsMember), tenantId }],
        createCount: 0,
      };
      conversations.set(id, conversation);
    }
    conversation.createCount++;
    return { status: 201, body: { id } };
  }

  function postActivity(p: ParsedPath, body: unknown, bytes: number): Reply {
    const conversationId = p.conversationId!;
    if (!conversations.has(conversationId))
      return errorReply(404, 'ConversationNotFound', 'Conversation not found.');
    if (!isRecord(body) || typeof body.type !== 'string') {
      return errorReply(400, 'BadArgument', 'The activity must be a JSON object with a type.');
    }
    if (bytes > maxActivityBytes) return errorReply(413, 'MessageSizeTooBig', 'Message size too big.');
    if (p.route === 'updateActivity') {
      // Naming a message the conversation does not hold (never sent, or deleted) is 404
      // ActivityNotFoundInConversation, per "Status codes from bot conversational APIs":
      // https://learn.microsoft.com/microsoftteams/platform/bots/build-conversational-capability#status-codes-from-bot-conversational-apis
      if (!live.get(conversationId)?.has(p.activityId!)) return activityNotFound();
      updated.push({
        seq: updated.length + 1,
        at: Date.now(),
        conversationId,
        activityId: p.activityId!,
        body,
      });
      return { status: 200, body: { id: p.activityId } };
    }
    const activityId = String(activityIdBase + ++activitySeq);
    if (!live.has(conversationId)) live.set(conversationId, new Set());
    live.get(conversationId)!.add(activityId);
    const entry: AcceptedActivity = {
      seq: accepted.length + 1,
      at: Date.now(),
      conversationId,
      activityId,
      body,
    };
    if (p.route === 'replyToActivity') entry.replyToId = p.activityId;
    accepted.push(entry);
    return { status: 201, body: { id: activityId } };
  }

  function activityNotFound(): Reply {
    return errorReply(404, 'ActivityNotFoundInConversation', 'Conversation not found.');
  }

  function rosterOf(conversationId: string): TeamsMember[] | undefined {
    return rosters.get(conversationId) ?? conversations.get(conversationId)?.members;
  }

  function members(p: ParsedPath): Reply {
    const roster = rosterOf(p.conversationId!);
    if (!roster) return errorReply(404, 'ConversationNotFound', 'Conversation not found.');
    if (p.route === 'getMembers') return { status: 200, body: roster };
    if (p.route === 'getMember') {
      // Teams looks a member up by Teams user ID, UPN or Entra object ID (get-teams-context docs).
      const wanted = p.memberId?.toLowerCase();
      const member = roster.find(
        (m) =>
          m.id === p.memberId || m.objectId === p.memberId || m.userPrincipalName?.toLowerCase() === wanted,
      );
      return member
        ? { status: 200, body: member }
        : errorReply(404, 'MemberNotFoundInConversation', 'The member was not found in the conversation.');
    }
    const pageSize = Math.min(500, Math.max(1, Number(p.query.get('pageSize')) || 200));
    const token = p.query.get('continuationToken');
    const offset = token ? Number(Buffer.from(token, 'base64url').toString('utf8')) : 0;
    if (!Number.isInteger(offset) || offset < 0 || offset > roster.length) {
      return errorReply(400, 'BadArgument', 'Invalid continuation token.');
    }
    const page = roster.slice(offset, offset + pageSize);
    const end = offset + page.length;
    return {
      status: 200,
      body:
        end < roster.length
          ? { members: page, continuationToken: Buffer.from(String(end)).toString('base64url') }
          : { members: page },
    };
  }

  function handleNormally(p: ParsedPath, body: unknown, bytes: number): Reply {
    switch (p.route) {
      case 'createConversation':
        return createConversation(body);
      case 'sendActivity':
      case 'replyToActivity':
      case 'updateActivity':
        return postActivity(p, body, bytes);
      case 'deleteActivity': {
        if (!conversations.has(p.conversationId!))
          return errorReply(404, 'ConversationNotFound', 'Conversation not found.');
        if (!live.get(p.conversationId!)?.delete(p.activityId!)) return activityNotFound();
        const entry = {
          seq: deleted.length + 1,
          at: Date.now(),
          conversationId: p.conversationId!,
          activityId: p.activityId!,
        };
        deleted.push(entry);
        return { status: 200 };
      }
      case 'getMembers':
      case 'getMember':
      case 'getPagedMembers':
        return members(p);
      default:
        return errorReply(404, 'NotFound', 'No such Bot Connector operation.');
    }
  }

  // ---- HTTP plumbing ------------------------------------------------------------------------------

  function write(res: ServerResponse, record: CallRecord, reply: Reply, extraDelayMs = 0): void {
    const delay = extraDelayMs + (typeof latency === 'function' ? latency() : latency);
    const send = (): void => {
      record.status = reply.status;
      byStatus[reply.status] = (byStatus[reply.status] ?? 0) + 1;
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
    const p = parsePath(req.url ?? '/', method) ?? {
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
    const record: CallRecord = { seq: ++seq, at: Date.now(), ...request, status: 0 };
    if (recordCalls) calls.push(record);

    if (opts.requireAuth && !req.headers.authorization?.startsWith('Bearer ')) {
      record.fault = 'auth';
      return write(
        res,
        record,
        errorReply(401, 'Unauthorized', 'Authorization has been denied for this request.'),
      );
    }

    let fault = takeScripted(request);
    if (fault) record.fault = 'script';
    else if ((fault = drawRandom(request))) record.fault = 'random';
    if (fault) {
      countFault(
        `${record.fault}:${
          isHang(fault)
            ? 'timeout'
            : `${fault.status}${fault.status === 429 && fault.retryAfter === null ? '-no-retry-after' : ''}`
        }`,
      );
      if (isHang(fault)) {
        const { then = 'drop' } = fault;
        return later(fault.hangMs, () => {
          if (then === 'deliver') return write(res, record, handleNormally(p, body, raw.length));
          byStatus[0] = (byStatus[0] ?? 0) + 1;
          res.destroy();
        });
      }
      if (fault.deliver) handleNormally(p, body, raw.length);
      return write(res, record, faultReply(fault), fault.delayMs);
    }

    const wait = throttle(request, p);
    if (wait > 0) {
      record.fault = 'throttle';
      countFault('throttle:429');
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
    write(res, record, handleNormally(p, body, raw.length));
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
    calls,
    accepted,
    updated,
    deleted,
    conversations,
    byStatus,
    faults,
    script(match, fault, times = 1) {
      scripted.push({ match, fault, remaining: times });
    },
    pendingScript: () => scripted.reduce((n, e) => n + e.remaining, 0),
    setRandomFaults(faults) {
      random = faults && { faults, next: seededRandom(faults.seed ?? 1) };
    },
    setRoster(id, roster) {
      rosters.set(id, roster);
    },
    setKnownMembers(ids) {
      knownMembers = ids ? new Set(ids) : undefined;
    },
    registerConversation(id, init = {}) {
      conversations.set(id, { members: [], ...init, id, createCount: 0 });
    },
    conversationIdFor,
    reset() {
      // Pending (delayed or hanging) answers still go out, but into the old records.
      // New arrays/objects, so records still held by a test are not mutated under it.
      connector.calls = calls = [];
      connector.accepted = accepted = [];
      connector.updated = updated = [];
      connector.deleted = deleted = [];
      live.clear();
      connector.byStatus = byStatus = {};
      connector.faults = faults = {};
      conversations.clear();
      rosters.clear();
      windows.clear();
      scripted = [];
      random = undefined;
      knownMembers = opts.knownMembers ? new Set(opts.knownMembers) : undefined;
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
