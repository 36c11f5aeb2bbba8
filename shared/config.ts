import { readGraphSettings, type GraphSettings } from './graph/settings.js';

/**
 * AUDIENCE_WINDOW's default (jobs/expand.ts): about 10 s of the tenant's budget, in whole queue
 * messages of 16, and never under 32 of them (512: Teams' 50 calls a second). A window that lasts
 * many times the second between two looks at it keeps the lane from running dry, also where
 * TENANT_RATE_PER_SECOND is raised; a job queued behind a broadcast still waits only about that long.
 */
export function defaultAudienceWindow(tenantRatePerSecond: number): number {
  return Math.max(512, Math.ceil((tenantRatePerSecond * 10) / 16) * 16);
}

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
    /**
     * Client ID of the user-assigned managed identity that a SingleTenant app registration trusts
     * through a federated identity credential: the bot then signs in with no secret.
     */
    managedIdentityClientId: string | undefined;
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
  /**
   * 'shared': the tenant budget is one schedule in Table Storage shared by every instance (default);
   * 'local': each process paces itself to the whole limit (one instance only).
   */
  tenantBudget: 'shared' | 'local';
  recipientHourlyCap: number;
  connectorTimeoutMs: number;
  /** Throttling and Teams outages are waited out this long after a job was accepted, then `failed`. */
  deliveryRetryWindowMs: number;
  /** Members per roster page when reading a team (Teams allows up to 500). */
  rosterPageSize: number;
  /** A team roster older than this is read from Teams again before a team audience is expanded. */
  rosterMaxAgeMs: number;
  /** Users read per page when expanding an audience (one Table page, at most 1000). */
  audiencePageSize: number;
  /** Deliveries queued at once while expanding an audience. */
  audienceFanOutConcurrency: number;
  /** Recipients of one audience job queued ahead of their outcomes (jobs/expand.ts); 0: no window. */
  audienceWindow: number;
  /**
   * Accept activities without a token when no app ID is set. Only for local emulators (the
   * sandbox and the tests set it); ignored in Azure.
   */
  allowUnauthenticatedActivities: boolean;
  /** The Functions host's environment says the app runs in Azure. */
  runsInAzure: boolean;
  /** Microsoft Graph: reaching people the bot never met (graph/settings.ts, docs/graph.md). */
  graph: GraphSettings;
  /** Who may call the notification routes, and how much (shared/auth/, shared/quotas/). */
  producers: ProducerSettings;
  /** Completion callbacks (shared/callbacks/). */
  callbacks: CallbackSettings;
}

export interface ProducerSettings {
  /** `any`: a key or an Entra token; `entra`: tokens only (keys off); `key`: keys only. */
  auth: 'any' | 'entra' | 'key';
  /** Keys accepted as `x-functions-key` or `?code=` (PRODUCER_KEYS). */
  keys: readonly string[];
  /** Microsoft Entra tokens: undefined when no audience or tenant is known. */
  entra:
    | {
        /** Accepted `aud` values: the App ID URI and the app ID. */
        audiences: readonly string[];
        /** Tenants whose tokens are accepted (`tid`). */
        tenants: readonly string[];
        /** The tenant's OpenID metadata, `{tenantId}` replaced by the token's tenant. */
        metadataUrl: string;
      }
    | undefined;
  jobsPerMinute: number;
  recipientsPerHour: number;
}

export interface CallbackSettings {
  /** Hosts (`host` or `host:port`, lower case) a job's callback may name. */
  allowedHosts: readonly string[];
  /** HMAC-SHA256 key of the callbacks' signature; without it no job may ask for a callback. */
  secret: string | undefined;
  /** The first wait after a failed attempt; each next one is three times longer (at most an hour). */
  firstRetrySeconds: number;
  /** Where the callbacks' status URLs point for jobs that did not come over HTTP. */
  publicOrigin: string | undefined;
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
  /** Microsoft Entra authentication of the exporter (needed when the resource disables local auth). */
  entraAuth: { clientId: string | undefined } | undefined;
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
  const rate = num(env, 'TENANT_RATE_PER_SECOND', 50, 1, 1000);
  return {
    bot: readBotSettings(env),
    storage: readStorageSettings(env),
    telemetry: readTelemetrySettings(env),
    allowedTenantIds: allowed.length ? new Set(allowed) : undefined,
    defaultTenantId: str(env, 'DEFAULT_TENANT_ID'),
    defaultServiceUrl: str(env, 'BOT_SERVICE_URL') ?? 'https://smba.trafficmanager.net/teams/',
    extraServiceUrlHosts: list(env, 'BOT_EXTRA_SERVICE_HOSTS').map((host) => host.toLowerCase()),
    tenantRatePerSecond: rate,
    conversationRatePerSecond: num(env, 'CONVERSATION_RATE_PER_SECOND', 7, 1, 100),
    tenantBudget: oneOf(env, 'TENANT_BUDGET', ['shared', 'local'], 'shared'),
    recipientHourlyCap: num(env, 'RECIPIENT_HOURLY_CAP', 30, 1, 100_000),
    connectorTimeoutMs: num(env, 'CONNECTOR_TIMEOUT_MS', 15_000, 100, 120_000),
    deliveryRetryWindowMs: num(env, 'DELIVERY_RETRY_HOURS', 24, 1, 168) * 3600_000,
    rosterPageSize: num(env, 'ROSTER_PAGE_SIZE', 500, 1, 500),
    rosterMaxAgeMs: num(env, 'ROSTER_MAX_AGE_MINUTES', 1440, 0, 525_600) * 60_000,
    audiencePageSize: num(env, 'AUDIENCE_PAGE_SIZE', 1000, 1, 1000),
    audienceFanOutConcurrency: num(env, 'AUDIENCE_FANOUT_CONCURRENCY', 64, 1, 512),
    audienceWindow: num(env, 'AUDIENCE_WINDOW', defaultAudienceWindow(rate), 0, 100_000),
    allowUnauthenticatedActivities: flag(env, 'ALLOW_UNAUTHENTICATED_ACTIVITIES'),
    runsInAzure: runsInAzure(env),
    graph: readGraphSettings(env),
    producers: readProducerSettings(env),
    callbacks: {
      allowedHosts: list(env, 'CALLBACK_ALLOWED_HOSTS').map((host) => host.toLowerCase()),
      secret: secretOf('CALLBACK_SIGNING_SECRET', str(env, 'CALLBACK_SIGNING_SECRET')),
      firstRetrySeconds: num(env, 'CALLBACK_FIRST_RETRY_SECONDS', 10, 1, 3600),
      // The platform sets WEBSITE_HOSTNAME to the app's default host name.
      publicOrigin: str(env, 'WEBSITE_HOSTNAME') ? `https://${str(env, 'WEBSITE_HOSTNAME')}` : undefined,
    },
  };
}

/** A secret setting: long enough that it cannot be guessed (a generated value). */
function secretOf(name: string, value: string | undefined): string | undefined {
  if (value !== undefined && value.length < 32)
    throw new ConfigError(`${name} must be at least 32 characters (a generated secret)`);
  return value;
}

/** Microsoft's v2.0 OpenID metadata of a tenant (learn.microsoft.com/entra/identity-platform/v2-protocols-oidc). */
export const ENTRA_METADATA_URL =
  'https://login.microsoftonline.com/{tenantId}/v2.0/.well-known/openid-configuration';

/**
 * Producers sign in with a key or a Microsoft Entra token for the bot's app registration: its App ID
 * URI (`api://botid-<app ID>`, infra/bot-registration.bicep) or app ID, issued in its tenant.
 */
function readProducerSettings(env: Env): ProducerSettings {
  const appId = str(env, 'MicrosoftAppId');
  const audiences = list(env, 'PRODUCER_TOKEN_AUDIENCES');
  if (!audiences.length && appId) audiences.push(`api://botid-${appId}`, appId);
  const tenants = list(env, 'PRODUCER_TOKEN_TENANTS').map((t) => t.toLowerCase());
  const appTenant = str(env, 'MicrosoftAppTenantId');
  if (!tenants.length && appTenant) tenants.push(appTenant.toLowerCase());
  const metadataUrl = str(env, 'PRODUCER_OPENID_METADATA_URL') ?? ENTRA_METADATA_URL;
  if (runsInAzure(env) && !metadataUrl.startsWith('https://'))
    throw new ConfigError('PRODUCER_OPENID_METADATA_URL must be an https URL in Azure');
  const keys = list(env, 'PRODUCER_KEYS');
  if (keys.some((key) => key.length < 16))
    throw new ConfigError('PRODUCER_KEYS: each key must be at least 16 characters');
  return {
    auth: oneOf(env, 'PRODUCER_AUTH', ['any', 'entra', 'key'], 'any'),
    keys,
    entra: audiences.length && tenants.length ? { audiences, tenants, metadataUrl } : undefined,
    jobsPerMinute: num(env, 'PRODUCER_JOBS_PER_MINUTE', 60, 1, 100_000),
    // A job names at most 500 recipients: a smaller hourly quota would refuse it for ever.
    recipientsPerHour: num(env, 'PRODUCER_RECIPIENTS_PER_HOUR', 20_000, 500, 10_000_000),
  };
}

/** The bot's Microsoft Entra identity: botbuilder's setting names, plus the managed identity a federated credential trusts. */
function readBotSettings(env: Env): AppConfig['bot'] {
  const bot: AppConfig['bot'] = {
    appId: str(env, 'MicrosoftAppId'),
    appPassword: str(env, 'MicrosoftAppPassword'),
    appType: oneOf(
      env,
      'MicrosoftAppType',
      ['MultiTenant', 'SingleTenant', 'UserAssignedMsi'],
      'MultiTenant',
    ),
    appTenantId: str(env, 'MicrosoftAppTenantId'),
    // The name Microsoft's federated-credential bot sample reads (BotBuilder-Samples
    // samples/javascript_nodejs/86.bot-authentication-fic/.env).
    managedIdentityClientId: str(env, 'MicrosoftAppClientId'),
    openIdMetadataUrl: str(env, 'ToBotFromChannelOpenIdMetadataUrl'),
    tokenIssuer: str(env, 'ToBotFromChannelTokenIssuer'),
  };
  if (bot.managedIdentityClientId && bot.appId) {
    // Federated credentials work for single-tenant registrations only (the sample's README), and
    // one credential at a time: a password beside them would leave a secret where none is needed.
    if (bot.appType !== 'SingleTenant')
      throw new ConfigError(`MicrosoftAppClientId needs MicrosoftAppType=SingleTenant, got ${bot.appType}`);
    if (bot.appPassword)
      throw new ConfigError('MicrosoftAppClientId and MicrosoftAppPassword are both set: use one credential');
    if (!bot.appTenantId) throw new ConfigError('MicrosoftAppClientId needs MicrosoftAppTenantId');
  }
  return bot;
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

/**
 * APPLICATIONINSIGHTS_AUTHENTICATION_STRING, the setting the Functions host itself reads:
 * `Authorization=AAD` (system-assigned identity) or `Authorization=AAD;ClientId=<user-assigned identity>`.
 */
export function parseAuthenticationString(text: string | undefined): TelemetrySettings['entraAuth'] {
  if (!text?.trim()) return undefined;
  const fields = new Map<string, string>();
  for (const part of text.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) fields.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  if (fields.get('authorization')?.toUpperCase() !== 'AAD') {
    throw new ConfigError('APPLICATIONINSIGHTS_AUTHENTICATION_STRING must contain Authorization=AAD');
  }
  return { clientId: fields.get('clientid') || undefined };
}

/** Application Insights settings. */
export function readTelemetrySettings(env: Env = process.env): TelemetrySettings {
  const ratioText = env.TELEMETRY_SAMPLING_RATIO?.trim();
  const samplingRatio = ratioText ? Number(ratioText) : 1;
  if (!Number.isFinite(samplingRatio) || samplingRatio < 0 || samplingRatio > 1) {
    throw new ConfigError(`TELEMETRY_SAMPLING_RATIO must be a number from 0 to 1, got "${ratioText}"`);
  }
  return {
    connectionString: str(env, 'APPLICATIONINSIGHTS_CONNECTION_STRING'),
    entraAuth: parseAuthenticationString(env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING),
    samplingRatio,
    liveMetrics: !/^(false|0)$/i.test(env.TELEMETRY_LIVE_METRICS?.trim() ?? ''),
    userIds: oneOf(env, 'TELEMETRY_USER_IDS', ['hash', 'omit', 'raw'], 'hash'),
    salt: str(env, 'TELEMETRY_USER_ID_SALT') ?? 'teams-notifier',
  };
}

/**
 * The App Service platform sets these on every Functions plan, Flex Consumption included.
 * CONTAINER_NAME (set on Linux Consumption) is not used: any container runtime may set it,
 * CI machines included.
 */
const AZURE_HOST_SETTINGS = ['WEBSITE_INSTANCE_ID', 'WEBSITE_SITE_NAME'] as const;

function runsInAzure(env: Env): boolean {
  return AZURE_HOST_SETTINGS.some((name) => str(env, name) !== undefined);
}

/**
 * How /api/messages treats inbound activities: JWT-checked with an app ID; without one, accepted
 * unauthenticated only when explicitly allowed outside Azure; otherwise every activity is refused,
 * so a misconfigured deployment cannot be fed forged rosters or relay DMs for anyone.
 */
type InboundAuthentication = 'token' | 'none' | 'refuse';

export function inboundAuthentication(config: AppConfig): InboundAuthentication {
  if (config.bot.appId) return 'token';
  if (config.allowUnauthenticatedActivities && !config.runsInAzure) return 'none';
  return 'refuse';
}

export function isTenantAllowed(config: AppConfig, tenantId: string | undefined): boolean {
  if (!config.allowedTenantIds) return true;
  return !!tenantId && config.allowedTenantIds.has(tenantId.toLowerCase());
}
