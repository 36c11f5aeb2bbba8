/**
 * Fault injection for the Teams-like fake connector: scripted faults (the next N matching requests)
 * and seeded random ones, answered with the error codes Microsoft documents for Teams bots.
 */
import type { ConnectorRequest, Route } from './routes.js';
import { DEFAULT_CODE, FORBIDDEN_CODES, SERVER_ERRORS, type Reply } from './teamsErrors.js';

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

export function isHang(fault: Fault): fault is HangFault {
  return 'hangMs' in fault;
}

export function faultReply(f: ErrorFault): Reply {
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

/** How a fault is counted in `faults`: `timeout`, `503`, `429`, `429-no-retry-after`, ... */
export function faultKind(fault: Fault): string {
  if (isHang(fault)) return 'timeout';
  return `${fault.status}${fault.status === 429 && fault.retryAfter === null ? '-no-retry-after' : ''}`;
}

function matches(m: RequestMatcher, req: ConnectorRequest): boolean {
  if (typeof m === 'function') return m(req);
  if (m === 'any') return true;
  if (m === 'send') return req.route === 'sendActivity' || req.route === 'replyToActivity';
  return req.route === m;
}

export interface FaultInjector {
  /** Force the next `times` requests that match to get `fault` (first matching entry wins). */
  script(match: RequestMatcher, fault: Fault, times?: number): void;
  /** Scripted answers not yet used. */
  pendingScript(): number;
  setRandomFaults(faults: RandomFaults | undefined): void;
  /** The fault this request gets, scripted first, else drawn; undefined for a normal answer. */
  next(req: ConnectorRequest): { fault: Fault; source: 'script' | 'random' } | undefined;
  /** No scripted or random faults. */
  reset(): void;
}

export function createFaultInjector(): FaultInjector {
  let scripted: { match: RequestMatcher; fault: Fault; remaining: number }[] = [];
  let random: { faults: RandomFaults; next: () => number } | undefined;

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

  return {
    script(match, fault, times = 1) {
      scripted.push({ match, fault, remaining: times });
    },
    pendingScript: () => scripted.reduce((n, e) => n + e.remaining, 0),
    setRandomFaults(faults) {
      random = faults && { faults, next: seededRandom(faults.seed ?? 1) };
    },
    next(req) {
      const fault = takeScripted(req);
      if (fault) return { fault, source: 'script' };
      const drawn = drawRandom(req);
      return drawn && { fault: drawn, source: 'random' };
    },
    reset() {
      scripted = [];
      random = undefined;
    },
  };
}
