import { readFileSync } from 'node:fs';

/**
 * host.json as the Functions host sees it: the file, with app settings named
 * `AzureFunctionsJobHost__<path>` overriding its values (the host's documented override mechanism).
 */
export function withHostOverrides(
  hostJson: unknown,
  env: Record<string, string | undefined> = process.env,
): unknown {
  const root = (hostJson && typeof hostJson === 'object' ? structuredClone(hostJson) : {}) as Record<
    string,
    unknown
  >;
  const prefix = 'azurefunctionsjobhost__';
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined || !name.toLowerCase().startsWith(prefix)) continue;
    const path = name.slice(prefix.length).split('__');
    let node = root;
    for (const part of path.slice(0, -1)) {
      const key = Object.keys(node).find((k) => k.toLowerCase() === part.toLowerCase()) ?? part;
      if (!node[key] || typeof node[key] !== 'object') node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    const last = path[path.length - 1] as string;
    const key = Object.keys(node).find((k) => k.toLowerCase() === last.toLowerCase()) ?? last;
    node[key] = /^-?\d+(\.\d+)?$/.test(raw)
      ? Number(raw)
      : raw === 'true'
        ? true
        : raw === 'false'
          ? false
          : raw;
  }
  return root;
}

/**
 * A .NET TimeSpan as host.json writes durations ("hh:mm:ss", "d.hh:mm:ss", optional ".fffffff"
 * fraction; https://learn.microsoft.com/azure/azure-functions/functions-host-json#functiontimeout) in
 * milliseconds; a plain number is taken as milliseconds. undefined when it is neither.
 */
export function parseTimeSpanMs(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?\s*$/.exec(value);
  if (!match) return undefined;
  const [, days, hours, minutes, seconds, fraction] = match;
  if (Number(minutes) >= 60 || Number(seconds) >= 60) return undefined;
  const ms =
    ((Number(days ?? 0) * 24 + Number(hours)) * 60 + Number(minutes)) * 60_000 +
    Number(seconds) * 1000 +
    (fraction ? Number(`0.${fraction}`) * 1000 : 0);
  return Math.round(ms);
}

/** The host.json values the code itself must agree with (the host applies them; delivery needs them). */
export interface HostSettings {
  maxDequeueCount: number;
  /** How long a failed message stays hidden before the host tries it again. */
  visibilityTimeoutMs: number;
  /** Past this the host restarts the worker (undefined: "-1", no timeout). */
  functionTimeoutMs: number | undefined;
}

/** The Flex Consumption, Premium and Dedicated plans' default (functions-scale#timeout). */
const DEFAULT_FUNCTION_TIMEOUT_MS = 30 * 60_000;

/**
 * Where host.json is, relative to this module. The deployment bundle (scripts/deploy/stage.ts)
 * defines it as './host.json': every chunk sits beside host.json at the root of the deployed folder.
 * Unbundled (tsc's dist/shared/) it is two levels up.
 */
declare const DEPLOYED_HOST_JSON: string | undefined;
const deployedHostJson = typeof DEPLOYED_HOST_JSON === 'string' ? DEPLOYED_HOST_JSON : undefined;

export function readQueueHostSettings(
  hostJsonUrl = new URL(deployedHostJson ?? '../../host.json', import.meta.url),
  env: Record<string, string | undefined> = process.env,
): HostSettings {
  let file: unknown = {};
  try {
    file = JSON.parse(readFileSync(hostJsonUrl, 'utf8'));
  } catch (err) {
    // host.json is part of the deployed folder: without it the artifact is broken, say so.
    if (deployedHostJson !== undefined) {
      throw new Error(`host.json beside the deployed bundle cannot be read: ${(err as Error).message}`);
    }
    // Unbundled with no host.json: the host's defaults apply.
  }
  const host = withHostOverrides(file, env) as {
    functionTimeout?: unknown;
    extensions?: { queues?: { maxDequeueCount?: number; visibilityTimeout?: unknown } };
  };
  const queues = host.extensions?.queues;
  const timeout = host.functionTimeout;
  return {
    maxDequeueCount: queues?.maxDequeueCount ?? 5,
    visibilityTimeoutMs: parseTimeSpanMs(queues?.visibilityTimeout) ?? 0,
    functionTimeoutMs:
      timeout === '-1' || timeout === -1
        ? undefined
        : (parseTimeSpanMs(timeout) ?? DEFAULT_FUNCTION_TIMEOUT_MS),
  };
}
