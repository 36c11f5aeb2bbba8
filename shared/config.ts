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
  /**
   * 'shared': the tenant budget is one schedule in Table Storage shared by every instance (default);
   * 'local': each process paces itself to the whole limit (one instance only).
   */
  tenantBudget: 'shared' | 'local';
  recipientHourlyCap: number;
  connectorTimeoutMs: number;
  /** Members per roster page when reading a team (Teams allows up to 500). */
  rosterPageSize: number;
  userIdTelemetry: UserIdTelemetryMode;
  userIdHashSalt: string;
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
    tenantBudget: oneOf(env, 'TENANT_BUDGET', ['shared', 'local'], 'shared'),
    recipientHourlyCap: num(env, 'RECIPIENT_HOURLY_CAP', 30, 1, 100_000),
    connectorTimeoutMs: num(env, 'CONNECTOR_TIMEOUT_MS', 15_000, 100, 120_000),
    rosterPageSize: num(env, 'ROSTER_PAGE_SIZE', 500, 1, 500),
    userIdTelemetry: oneOf(env, 'TELEMETRY_USER_IDS', ['hash', 'omit', 'raw'], 'hash'),
    userIdHashSalt: str(env, 'TELEMETRY_USER_ID_SALT') ?? 'teams-notifier',
  };
}

export function isTenantAllowed(config: AppConfig, tenantId: string | undefined): boolean {
  if (!config.allowedTenantIds) return true;
  return !!tenantId && config.allowedTenantIds.has(tenantId.toLowerCase());
}
