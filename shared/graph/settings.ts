/**
 * The Microsoft Graph settings (docs/settings.md, docs/graph.md). Where Graph is and which app the
 * catalog holds; whether Graph may be called at all, and with which token, is decided from these
 * and the bot's identity in setup.ts.
 */

export interface GraphSettings {
  /** `GRAPH_BASE_URL`: Microsoft Graph's service root with its version. */
  baseUrl: string;
  /** `TEAMS_APP_CATALOG_ID`: the app's ID in the organization's app catalog (Graph's teamsApp id). */
  catalogId: string | undefined;
  /** `TEAMS_APP_ID`: the manifest's `id`, the catalog entry's `externalId`, to look the catalog ID up by. */
  manifestId: string | undefined;
  /** Calls per second per tenant for each Teams row of Graph's limits (installedApps reads; installs). */
  teamsRatePerSecond: number;
  /** Directory reads (users, group members) per second per tenant. */
  directoryRatePerSecond: number;
  timeoutMs: number;
}

type Env = Record<string, string | undefined>;

export const DEFAULT_GRAPH_BASE_URL = 'https://graph.microsoft.com/v1.0';

/**
 * Microsoft Graph's Teams service limits, per app per tenant, "GET ... installedApps, appCatalogs"
 * and "POST/PUT ... installedApps, appCatalogs": 30 requests per second each (microsoftgraph/
 * microsoft-graph-docs-contrib concepts/throttling-limits.md, "Microsoft Teams service limits").
 */
export const TEAMS_RATE_PER_SECOND = 30;
/**
 * Identity and access service limits, application+tenant pair, smallest tenant size (S, under 50
 * users): 3,500 resource units per 10 seconds, i.e. 350 per second; a `transitiveMembers` page
 * costs 5 units (4 with `$select`), a user read 1 (same page, "Identity and access service limits").
 * Spent at the costliest call's price: 350 / 5 = 70 requests per second.
 */
export const DIRECTORY_RATE_PER_SECOND = 70;

function str(env: Env, name: string): string | undefined {
  return env[name]?.trim() || undefined;
}

function num(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max)
    throw new Error(`${name} must be a number from ${min} to ${max}, got "${raw}"`);
  return value;
}

export function readGraphSettings(env: Env): GraphSettings {
  return {
    baseUrl: str(env, 'GRAPH_BASE_URL') ?? DEFAULT_GRAPH_BASE_URL,
    catalogId: str(env, 'TEAMS_APP_CATALOG_ID'),
    manifestId: str(env, 'TEAMS_APP_ID'),
    teamsRatePerSecond: num(env, 'GRAPH_TEAMS_RATE_PER_SECOND', TEAMS_RATE_PER_SECOND, 1, 1000),
    directoryRatePerSecond: num(env, 'GRAPH_DIRECTORY_RATE_PER_SECOND', DIRECTORY_RATE_PER_SECOND, 1, 1000),
    timeoutMs: num(env, 'GRAPH_TIMEOUT_MS', 15_000, 100, 120_000),
  };
}
