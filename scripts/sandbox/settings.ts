/**
 * What the sandbox (`npm start`) listens on and which app settings it gives the function app so
 * that it talks to the sandbox's Azurite and Agents Playground and to nothing else.
 */
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JOBS_QUEUE } from '../../shared/queues.js';
import { AZURITE_DEFAULT_PORTS, azuriteConnectionString } from './azurite.js';
import { PLAYGROUND_DEFAULTS } from './playground.js';
import { SANDBOX_CATALOG_APP } from './graph.js';
import { freePort } from './ports.js';

export interface SandboxPorts {
  blob: number;
  queue: number;
  table: number;
  app: number;
  playground: number;
}

/** Five free ports for a sandbox stack of its own (tests, the screenshot): Azurite's three, the app, the Playground. */
export async function freeSandboxPorts(): Promise<SandboxPorts> {
  const [blob, queue, table, app, playground] = await Promise.all(Array.from({ length: 5 }, freePort));
  return { blob: blob!, queue: queue!, table: table!, app: app!, playground: playground! };
}

/** The environment variable that moves each port, and its default. */
export const PORT_SETTINGS: Readonly<Record<keyof SandboxPorts, { variable: string; default: number }>> = {
  blob: { variable: 'AZURITE_BLOB_PORT', default: AZURITE_DEFAULT_PORTS.blob },
  queue: { variable: 'AZURITE_QUEUE_PORT', default: AZURITE_DEFAULT_PORTS.queue },
  table: { variable: 'AZURITE_TABLE_PORT', default: AZURITE_DEFAULT_PORTS.table },
  app: { variable: 'APP_PORT', default: 7071 },
  // The Playground's own default.
  playground: { variable: 'PLAYGROUND_PORT', default: 56150 },
};

/** A setting the user got wrong: printed as one line, no stack trace. */
export class SandboxError extends Error {
  override name = 'SandboxError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

type Env = Record<string, string | undefined>;

export function readPorts(env: Env = process.env): SandboxPorts {
  const ports = {} as SandboxPorts;
  for (const [key, { variable, default: fallback }] of Object.entries(PORT_SETTINGS)) {
    const raw = env[variable]?.trim();
    const value = raw ? Number(raw) : fallback;
    if (!Number.isInteger(value) || value < 1 || value > 65535) {
      throw new SandboxError(`${variable} must be a port number from 1 to 65535, got "${raw}"`, 2);
    }
    ports[key as keyof SandboxPorts] = value;
  }
  const seen = new Map<number, string>();
  for (const [key, port] of Object.entries(ports)) {
    const variable = PORT_SETTINGS[key as keyof SandboxPorts].variable;
    const other = seen.get(port);
    if (other) throw new SandboxError(`${other} and ${variable} are both ${port}; give each its own port`, 2);
    seen.set(port, variable);
  }
  return ports;
}

export function usesDefaultAzuritePorts(ports: SandboxPorts): boolean {
  return (
    ports.blob === AZURITE_DEFAULT_PORTS.blob &&
    ports.queue === AZURITE_DEFAULT_PORTS.queue &&
    ports.table === AZURITE_DEFAULT_PORTS.table
  );
}

/** `UseDevelopmentStorage=true` on Azurite's own ports, else the full development-account string. */
export function storageConnection(ports: SandboxPorts): string {
  return usesDefaultAzuritePorts(ports) ? 'UseDevelopmentStorage=true' : azuriteConnectionString(ports);
}

export const PLAYGROUND_TENANT = PLAYGROUND_DEFAULTS.tenantId;

export const playgroundUrl = (ports: SandboxPorts) => `http://localhost:${ports.playground}`;
export const messagesEndpoint = (ports: SandboxPorts) => `http://127.0.0.1:${ports.app}/api/messages`;

/**
 * App settings for the sandbox. They win over local.settings.json (both hosts let the environment
 * win), so a local.settings.json made for a real tenant does not point the sandbox at Azure.
 */
export function sandboxAppSettings(ports: SandboxPorts, graphUrl?: string): Record<string, string> {
  return {
    // The sandbox's fake Microsoft Graph (graph.ts), on a loopback port, called without a token; the
    // app finds its catalog ID by the manifest ID (TEAMS_APP_ID), as a deployment without
    // TEAMS_APP_CATALOG_ID does.
    ...(graphUrl
      ? { GRAPH_BASE_URL: graphUrl, TEAMS_APP_ID: SANDBOX_CATALOG_APP.externalId, TEAMS_APP_CATALOG_ID: '' }
      : {}),
    FUNCTIONS_WORKER_RUNTIME: 'node',
    AzureWebJobsStorage: storageConnection(ports),
    // The Playground sends no token and serves no token endpoint: run without authentication.
    MicrosoftAppId: '',
    MicrosoftAppPassword: '',
    ALLOW_UNAUTHENTICATED_ACTIVITIES: 'true',
    // The Playground is the Bot Connector service of its activities and of new tenants.
    BOT_SERVICE_URL: `${playgroundUrl(ports)}/_connector`,
    BOT_EXTRA_SERVICE_HOSTS: `localhost:${ports.playground}`,
    DEFAULT_TENANT_ID: PLAYGROUND_TENANT,
    ALLOWED_TENANT_IDS: PLAYGROUND_TENANT,
    APPLICATIONINSIGHTS_CONNECTION_STRING: '',
  };
}

/**
 * Copies local.settings.sample.json to local.settings.json when there is none, as the README's
 * first step for `func start` says; returns true when it did. The CLI then finds the sandbox too.
 */
export function ensureLocalSettings(root: string): boolean {
  const file = join(root, 'local.settings.json');
  const sample = join(root, 'local.settings.sample.json');
  if (existsSync(file) || !existsSync(sample)) return false;
  copyFileSync(sample, file);
  return true;
}

/** Values of local.settings.json, or {} when there is none. */
export function readLocalSettingsValues(root: string): Record<string, string> {
  const file = join(root, 'local.settings.json');
  if (!existsSync(file)) return {};
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, string> }).Values ?? {};
  } catch {
    return {};
  }
}

/**
 * The exact `npm run notify` command that reaches this sandbox from a shell with `env`, run in
 * `root`: it names the storage and tenant only where the CLI would otherwise find other values
 * (from the environment first, then local.settings.json, as the CLI reads them).
 */
export function notifyCommand(
  ports: SandboxPorts,
  to: string,
  text: string,
  root: string,
  env: Env = process.env,
): string {
  const local = readLocalSettingsValues(root);
  const effective = (name: string) => env[name] ?? local[name];
  const storage = storageConnection(ports);
  const prefix =
    effective('AzureWebJobsStorage')?.trim() === storage ? '' : `AzureWebJobsStorage='${storage}' `;
  const tenant = effective('DEFAULT_TENANT_ID') === PLAYGROUND_TENANT ? '' : ` --tenant ${PLAYGROUND_TENANT}`;
  return `${prefix}npm run notify --${tenant} --to ${to} --text ${JSON.stringify(text)}`;
}

export const SANDBOX_QUEUE = JOBS_QUEUE;
