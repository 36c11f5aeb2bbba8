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

/** The host.json values the code itself must agree with (the host applies them; delivery records need them). */
interface QueueHostSettings {
  maxDequeueCount: number;
}

/**
 * Where host.json is, relative to this module. The deployment bundle (scripts/deploy/stage.ts)
 * defines it as './host.json': every chunk sits beside host.json at the root of the deployed folder.
 * Unbundled (tsc's dist/shared/) it is two levels up.
 */
declare const DEPLOYED_HOST_JSON: string | undefined;
const deployedHostJson = typeof DEPLOYED_HOST_JSON === 'string' ? DEPLOYED_HOST_JSON : undefined;

export function readQueueHostSettings(
  hostJsonUrl = new URL(deployedHostJson ?? '../../host.json', import.meta.url),
): QueueHostSettings {
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
  const host = withHostOverrides(file) as { extensions?: { queues?: { maxDequeueCount?: number } } };
  return { maxDequeueCount: host.extensions?.queues?.maxDequeueCount ?? 5 };
}
