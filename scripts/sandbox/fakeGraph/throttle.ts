/**
 * The fake Graph's throttling: Microsoft's documented per-app-per-tenant limits as sliding windows
 * (microsoftgraph/microsoft-graph-docs-contrib concepts/throttling-limits.md):
 * - "Microsoft Teams service limits": GET ... installedApps, appCatalogs 30 rps; POST/PUT ...
 *   installedApps, appCatalogs 30 rps. The chat of an installation is read under installedApps
 *   (`/users/{id}/teamwork/installedApps/{id}/chat`): counted on the GET row.
 * - "Identity and access service limits": application+tenant pair, S (under 50 users) 3,500,
 *   M (50-500) 5,000, L (over 500) 8,000 resource units per 10 seconds; a request costs its base
 *   cost (GET groups/{id}/transitiveMembers 5, any other identity GET 1), $select takes 1 off, never
 *   below 1.
 * Throttled requests count too: "Microsoft Graph continues to log resource usage while a client is
 * being throttled" (concepts/throttling.md). A 429 names the wait until the window has room.
 */

export type Limit = 'teamsInstalledAppsRead' | 'teamsInstalledAppsWrite' | 'identity';

export interface Window {
  limit: number;
  windowMs: number;
}

export function documentedLimits(tenantUsers: number): Record<Limit, Window> {
  const identity = tenantUsers < 50 ? 3500 : tenantUsers <= 500 ? 5000 : 8000;
  return {
    teamsInstalledAppsRead: { limit: 30, windowMs: 1000 },
    teamsInstalledAppsWrite: { limit: 30, windowMs: 1000 },
    identity: { limit: identity, windowMs: 10_000 },
  };
}

/** Spends `cost` units at `now`; the seconds to wait when the window was already full, else 0. */
class SlidingWindow {
  private readonly spent: Array<{ at: number; cost: number }> = [];
  private total = 0;

  constructor(private readonly w: Window) {}

  spend(now: number, cost: number): number {
    while (this.spent.length && this.spent[0]!.at <= now - this.w.windowMs)
      this.total -= this.spent.shift()!.cost;
    const over = this.total + cost > this.w.limit;
    this.spent.push({ at: now, cost });
    this.total += cost;
    if (!over) return 0;
    // Room again once enough of the oldest spending has left the window.
    let freed = 0;
    for (const s of this.spent) {
      freed += s.cost;
      if (this.total - freed + cost <= this.w.limit)
        return Math.max(0.001, (s.at + this.w.windowMs - now) / 1000);
    }
    return this.w.windowMs / 1000;
  }
}

export class Throttle {
  private readonly windows: Map<Limit, SlidingWindow>;
  readonly counts: Record<Limit, { calls: number; throttled: number }>;

  constructor(limits: Record<Limit, Window>) {
    this.windows = new Map(Object.entries(limits).map(([k, w]) => [k as Limit, new SlidingWindow(w)]));
    this.counts = {
      teamsInstalledAppsRead: { calls: 0, throttled: 0 },
      teamsInstalledAppsWrite: { calls: 0, throttled: 0 },
      identity: { calls: 0, throttled: 0 },
    };
  }

  /** Seconds to Retry-After when the request is over its limit, else 0. */
  admit(limit: Limit, cost = 1, now = Date.now()): number {
    this.counts[limit].calls++;
    const wait = this.windows.get(limit)!.spend(now, cost);
    if (wait) this.counts[limit].throttled++;
    return wait;
  }
}
