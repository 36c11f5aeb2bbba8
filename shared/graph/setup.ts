import type { AppConfig } from '../config.js';

/**
 * Whether the app may call Microsoft Graph, with which token, and for which tenants: pure decisions
 * from the settings (unit-tested in test/graph-policy.test.ts).
 *
 * The rule for the token is the Bot Connector's (delivery/serviceUrl.ts): with an app ID the token
 * goes to Microsoft Graph's own host over https and nowhere else; a loopback `GRAPH_BASE_URL` (the
 * sandbox's and the tests' fake Graph) is called without a token, and only when no app ID is set.
 */

/**
 * Microsoft Graph's service roots, one per national cloud ("Microsoft Graph and Graph Explorer
 * service root endpoints", microsoft-graph-docs-contrib concepts/deployments.md).
 */
export const MICROSOFT_GRAPH_HOSTS: readonly string[] = [
  'graph.microsoft.com',
  'graph.microsoft.us',
  'dod-graph.microsoft.us',
  'microsoftgraph.chinacloudapi.cn',
];

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export type GraphSetup =
  | {
      enabled: true;
      /** Scheme, host and port every call goes to (and every next page must come from). */
      origin: string;
      /** The path after the origin: the API version, e.g. `v1.0`. */
      version: string;
      /** `app`: the bot's app registration's token for this origin's `/.default` scope. */
      auth: 'none' | 'app';
      /** Tenants whose directory the token reaches; undefined: any (no token, or a multi-tenant app). */
      tenantId: string | undefined;
    }
  | { enabled: false; why: string };

const notConfigured = (why: string): GraphSetup => ({ enabled: false, why });

function parse(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

export function graphSetup(config: Pick<AppConfig, 'bot' | 'graph' | 'runsInAzure'>): GraphSetup {
  const { bot, graph } = config;
  const url = parse(graph.baseUrl);
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash)
    return notConfigured(
      `GRAPH_BASE_URL "${graph.baseUrl}" is not a service root such as ${'https://graph.microsoft.com/v1.0'}`,
    );
  const host = url.hostname.toLowerCase();
  const version = url.pathname.replace(/^\/+|\/+$/g, '');
  const base = { enabled: true as const, origin: url.origin, version };
  if (LOOPBACK.has(host)) {
    if (bot.appId)
      return notConfigured(
        `GRAPH_BASE_URL points at ${url.host}, not Microsoft Graph: the app's token goes to Microsoft Graph only`,
      );
    if (config.runsInAzure) return notConfigured('a loopback GRAPH_BASE_URL is for local fakes only');
    return { ...base, auth: 'none', tenantId: undefined };
  }
  if (url.protocol !== 'https:' || !MICROSOFT_GRAPH_HOSTS.includes(host))
    return notConfigured(
      `GRAPH_BASE_URL host ${url.host} is not Microsoft Graph (${MICROSOFT_GRAPH_HOSTS.join(', ')})`,
    );
  if (!bot.appId)
    return notConfigured('MicrosoftAppId is not set: the app has no identity to call Microsoft Graph with');
  const federated = !!bot.managedIdentityClientId;
  if (bot.appType !== 'UserAssignedMsi' && !federated && !bot.appPassword)
    return notConfigured(
      'the bot has no credential to sign in to Microsoft Graph with (MicrosoftAppClientId or MicrosoftAppPassword)',
    );
  const singleTenant = bot.appType !== 'MultiTenant';
  if (singleTenant && !bot.appTenantId) return notConfigured('MicrosoftAppTenantId is not set');
  return { ...base, auth: 'app', tenantId: singleTenant ? bot.appTenantId!.toLowerCase() : undefined };
}

/** Why Graph cannot be used for this tenant's users, or undefined when it can. */
export function tenantProblem(setup: GraphSetup, tenantId: string): string | undefined {
  if (!setup.enabled) return `Microsoft Graph is not configured: ${setup.why}`;
  if (setup.tenantId && setup.tenantId !== tenantId.toLowerCase())
    return `Microsoft Graph is set up for tenant ${setup.tenantId} only (the app registration's tenant, where its permissions are granted)`;
  return undefined;
}

/** The token's audience: Graph's `/.default` scope on the configured origin. */
export const graphScope = (setup: Extract<GraphSetup, { enabled: true }>) => `${setup.origin}/.default`;

/**
 * A next-page link as a path under the configured root, or undefined when it leaves it: a page of
 * ours is only ever read from where the first one came from.
 */
export function relativeLink(
  setup: Extract<GraphSetup, { enabled: true }>,
  link: string,
): string | undefined {
  const url = parse(link);
  if (!url || url.origin !== setup.origin) return undefined;
  const prefix = setup.version ? `/${setup.version}/` : '/';
  if (!url.pathname.startsWith(prefix)) return undefined;
  return url.pathname.slice(prefix.length) + url.search;
}
