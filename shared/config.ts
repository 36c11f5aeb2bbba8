/**
 * Every setting the app reads, parsed once from the environment (app settings in Azure,
 * local.settings.json locally). Invalid values fail fast with the setting's name. The host's own
 * settings (host.json and its `AzureFunctionsJobHost__…` overrides) are read by hostSettings.ts.
 */

type AppType = 'MultiTenant' | 'SingleTenant' | 'UserAssignedMsi';
type UserIdTelemetryMode = 'hash' | 'omit' | 'raw';

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
  /** `AzureWebJobsStorage`: the Functions host's storage connection, also used by the app's stores. */
  storage: StorageSettings;
  telemetry: TelemetrySettings;
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
}

export interface StorageSettings {
  connectionString?: string | undefined;
  tableServiceUri?: string | undefined;
  queueServiceUri?: string | undefined;
  clientId?: string | undefined;
  /** Where `UseDevelopmentStorage=true` points (Azurite's host; 127.0.0.1 when unset). */
  azuriteHost?: string | undefined;
}

interface TelemetrySettings {
  connectionString: string | undefined;
  samplingRatio: number;
  liveMetrics: boolean;
  userIds: UserIdTelemetryMode;
  salt: string;
}

type Env = Record<string, string | undefined>;

class ConfigError extends Error {
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
    storage: readStorageSettings(env),
    telemetry: readTelemetrySettings(env),
    allowedTenantIds: allowed.length ? new Set(allowed) : undefined,
    defaultTenantId: str(env, 'DEFAULT_TENANT_ID'),
    defaultServiceUrl: str(env, 'BOT_SERVICE_URL') ?? 'https://smba.trafficmanager.net/teams/',
    extraServiceUrlHosts: list(env, 'BOT_EXTRA_SERVICE_HOSTS').map((host) => host.toLowerCase()),
    tenantRatePerSecond: num(env, 'TENANT_RATE_PER_SECOND', 50, 1, 1000),
    conversationRatePerSecond: num(env, 'CONVERSATION_RATE_PER_SECOND', 7, 1, 100),
    recipientHourlyCap: num(env, 'RECIPIENT_HOURLY_CAP', 30, 1, 100_000),
    connectorTimeoutMs: num(env, 'CONNECTOR_TIMEOUT_MS', 15_000, 100, 120_000),
    rosterPageSize: num(env, 'ROSTER_PAGE_SIZE', 500, 1, 500),
  };
}

/**
 * The storage connection, as the Functions host reads it: a connection string (`UseDevelopmentStorage=true`
 * included) or, identity-based, `AzureWebJobsStorage__tableServiceUri` / `__queueServiceUri` (+ `__clientId`).
 */
export function readStorageSettings(env: Env = process.env): StorageSettings {
  const prefix = 'AzureWebJobsStorage';
  return {
    connectionString: str(env, 'AzureWebJobsStorage'),
    tableServiceUri: env[`${prefix}__tableServiceUri`],
    queueServiceUri: env[`${prefix}__queueServiceUri`],
    clientId: env[`${prefix}__clientId`],
    azuriteHost: str(env, 'AZURITE_HOST'),
  };
}

/** Application Insights settings. */
function readTelemetrySettings(env: Env = process.env): TelemetrySettings {
  const ratioText = env.TELEMETRY_SAMPLING_RATIO?.trim();
  const samplingRatio = ratioText ? Number(ratioText) : 1;
  if (!Number.isFinite(samplingRatio) || samplingRatio < 0 || samplingRatio > 1) {
    throw new ConfigError(`TELEMETRY_SAMPLING_RATIO must be a number from 0 to 1, got "${ratioText}"`);
  }
  return {
    connectionString: str(env, 'APPLICATIONINSIGHTS_CONNECTION_STRING'),
    samplingRatio,
    liveMetrics: !/^(false|0)$/i.test(env.TELEMETRY_LIVE_METRICS?.trim() ?? ''),
    userIds: oneOf(env, 'TELEMETRY_USER_IDS', ['hash', 'omit', 'raw'], 'hash'),
    salt: str(env, 'TELEMETRY_USER_ID_SALT') ?? 'teams-notifier',
  };
}

export function isTenantAllowed(config: AppConfig, tenantId: string | undefined): boolean {
  if (!config.allowedTenantIds) return true;
  return !!tenantId && config.allowedTenantIds.has(tenantId.toLowerCase());
}
