/**
 * Teams-like throttling for the fake connector: sliding windows per bot app per tenant and per
 * conversation, O(1) per request so "instant" benchmarks measure the bot, not the fake.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { isRecord } from './routes.js';

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

const DEFAULT_LIMITS: RateLimits = {
  perAppTenant: [{ limit: 50, windowMs: 1000 }],
  perConversation: [{ limit: 7, windowMs: 1000 }],
  retryAfter: true,
};

/** The limits in force: Teams' defaults with the options' overrides, or false for none. */
export function rateLimitsOf(options: Partial<RateLimits> | false | undefined): RateLimits | false {
  return options === false ? false : { ...DEFAULT_LIMITS, ...options };
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

/** What throttling keys a request by. */
export interface ThrottledRequest {
  headers: IncomingHttpHeaders;
  tenant: string;
  conversationId?: string;
  /** A message post (send, reply, update, delete), limited per conversation too. */
  post: boolean;
}

export interface Throttle {
  /** ms to wait, or 0 after admitting the request into every window. */
  admit(req: ThrottledRequest): number;
  /** Empty windows. */
  reset(): void;
}

export function createThrottle(limits: RateLimits | false): Throttle {
  const windows = new Map<string, SlidingWindow[]>();
  const appIdCache = new Map<string, string>();

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

  return {
    admit(req) {
      if (!limits) return 0;
      const app = appIdOf(req.headers);
      const tenantWindows = windowsFor(`t|${app}|${req.tenant}`, limits.perAppTenant);
      const convWindows = req.post
        ? windowsFor(`c|${app}|${req.conversationId}`, limits.perConversation)
        : [];
      const now = performance.now();
      let wait = 0;
      for (const w of tenantWindows) wait = Math.max(wait, w.waitMs(now));
      for (const w of convWindows) wait = Math.max(wait, w.waitMs(now));
      if (wait > 0) return wait;
      for (const w of tenantWindows) w.admit(now);
      for (const w of convWindows) w.admit(now);
      return 0;
    },
    reset() {
      windows.clear();
    },
  };
}
