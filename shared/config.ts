/**
 * Every setting the app reads, parsed once from the environment (app settings in Azure,
 * local.settings.json locally). Invalid values fail fast with the setting's name.
 */

export type AppType = 'MultiTenant' | 'SingleTenant' | 'UserAssignedMsi';
export type UserIdTelemetryMode = 'hash' | 'omit' | 'raw';

export interface AppConfig {
  bot: {
    appId: string | undefined;
    appPassword: string | undefined;
    appType: AppType;
    appTenantId: string | undefined;
    /** Test and sovereign-cloud overrides passed straight to botbuilder's authentication. */
    openIdMetadataUrl: string | undefined;
    tokenIssuer: string | undefined;
  };
  storageConnection: string;
  allowedTenantIds: ReadonlySet<string> | undefined;
  defaultTenantId: string | undefined;
  /** Used for tenants with no stored conversation reference yet. */
  defaultServiceUrl: string;
  /** Extra hosts (beyond Microsoft's Bot Framework hosts) that may receive the bot's calls. */
  extraServiceUrlHosts: readonly string[];
  tenantRatePerSecond: number;
  conversationRatePerSecond: number;
  recipientHourlyCap: number;
  connectorTimeoutMs: number;
  /** Members per roster page when reading a team (Teams allows up to 500). */
  rosterPageSize: number;
  userIdTelemetry: UserIdTelemetryMode;
  userIdHashSalt: string;
  /**
   * Accept activities without a token when no app ID is set. Only for local emulators (the
   * sandbox and the tests set it); ignored in Azure.
   */
  allowUnauthenticatedActivities: boolean;
  /** The Functions host's environment says the app runs in Azure. */
  runsInAzure: boolean;
}

type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function str(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function num(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function list(env: Env, name: string): string[] {
  return (str(env, name) ?? '')
    .split(/[,;\s]+/)
    .map((item) => item.trim())
    .filter(Boolean);
}

function flag(env: Env, name: string): boolean {
  const raw = str(env, name);
  if (raw === undefined || /^(false|0)$/i.test(raw)) return false;
  if (/^(true|1)$/i.test(raw)) return true;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  const match = allowed.find((item) => item.toLowerCase() === raw.toLowerCase());
  if (!match) throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  return match;
}

export function loadConfig(env: Env = process.env): AppConfig {
  const allowed = list(env, 'ALLOWED_TENANT_IDS').map((id) => id.toLowerCase());
  return {
    bot: {
      appId: str(env, 'MicrosoftAppId'),
      appPassword: str(env, 'MicrosoftAppPassword'),
      appType: oneOf(
        env,
        'MicrosoftAppType',
        ['MultiTenant', 'SingleTenant', 'UserAssignedMsi'],
        'MultiTenant',
      ),
      appTenantId: str(env, 'MicrosoftAppTenantId'),
      openIdMetadataUrl: str(env, 'ToBotFromChannelOpenIdMetadataUrl'),
      tokenIssuer: str(env, 'ToBotFromChannelTokenIssuer'),
    },
    storageConnection: str(env, 'AzureWebJobsStorage') ?? 'UseDevelopmentStorage=true',
    allowedTenantIds: allowed.length ? new Set(allowed) : undefined,
    defaultTenantId: str(env, 'DEFAULT_TENANT_ID'),
    defaultServiceUrl: str(env, 'BOT_SERVICE_URL') ?? 'https://smba.trafficmanager.net/teams/',
    extraServiceUrlHosts: list(env, 'BOT_EXTRA_SERVICE_HOSTS').map((host) => host.toLowerCase()),
    tenantRatePerSecond: num(env, 'TENANT_RATE_PER_SECOND', 50, 1, 1000),
    conversationRatePerSecond: num(env, 'CONVERSATION_RATE_PER_SECOND', 7, 1, 100),
    recipientHourlyCap: num(env, 'RECIPIENT_HOURLY_CAP', 30, 1, 100_000),
    connectorTimeoutMs: num(env, 'CONNECTOR_TIMEOUT_MS', 15_000, 100, 120_000),
    rosterPageSize: num(env, 'ROSTER_PAGE_SIZE', 500, 1, 500),
    userIdTelemetry: oneOf(env, 'TELEMETRY_USER_IDS', ['hash', 'omit', 'raw'], 'hash'),
    userIdHashSalt: str(env, 'TELEMETRY_USER_ID_SALT') ?? 'teams-notifier',
    allowUnauthenticatedActivities: flag(env, 'ALLOW_UNAUTHENTICATED_ACTIVITIES'),
    runsInAzure: runsInAzure(env),
  };
}

/**
 * The App Service platform sets these on every Functions plan, Flex Consumption included.
 * CONTAINER_NAME (set on Linux Consumption) is not used: any container runtime may set it,
 * CI machines included.
 */
export const AZURE_HOST_SETTINGS = ['WEBSITE_INSTANCE_ID', 'WEBSITE_SITE_NAME'] as const;

function runsInAzure(env: Env): boolean {
  return AZURE_HOST_SETTINGS.some((name) => str(env, name) !== undefined);
}

/**
 * How /api/messages treats inbound activities: JWT-checked with an app ID; without one, accepted
 * unauthenticated only when explicitly allowed outside Azure; otherwise every activity is refused,
 * so a misconfigured deployment cannot be fed forged rosters or relay DMs for anyone.
 */
export type InboundAuthentication = 'token' | 'none' | 'refuse';

export function inboundAuthentication(config: AppConfig): InboundAuthentication {
  if (config.bot.appId) return 'token';
  if (config.allowUnauthenticatedActivities && !config.runsInAzure) return 'none';
  return 'refuse';
}

export function isTenantAllowed(config: AppConfig, tenantId: string | undefined): boolean {
  if (!config.allowedTenantIds) return true;
  return !!tenantId && config.allowedTenantIds.has(tenantId.toLowerCase());
}
