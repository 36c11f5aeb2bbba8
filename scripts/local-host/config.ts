/**
 * Reading the function app's configuration the way the Functions host does: host.json (HTTP route
 * prefix, queue trigger settings, functionTimeout, log level) and local.settings.json (Values → env).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseLogLevel, type LogLevel } from './logger.js';
import { parseTimeSpanMs, withHostOverrides } from '../../shared/hostSettings.js';

/** A configuration problem the user can fix; the entry prints only its message. */
export class LocalHostConfigError extends Error {
  override name = 'LocalHostConfigError';
}

export interface QueueOptions {
  /** Messages fetched per receive call (1–32). */
  batchSize: number;
  /** A new batch is fetched when the number of messages still in flight drops to this. */
  newBatchThreshold: number;
  /** Upper bound of the polling back-off when the queue is empty. */
  maxPollingIntervalMs: number;
  /** How long a failed message stays invisible before it is retried. */
  visibilityTimeoutMs: number;
  /** Attempts before a message goes to `<queue>-poison`. */
  maxDequeueCount: number;
  messageEncoding: 'base64' | 'none';
}

export interface HostConfig {
  routePrefix: string;
  queues: QueueOptions;
  /** undefined: no limit (functionTimeout "-1"). */
  functionTimeoutMs: number | undefined;
  minLogLevel: LogLevel | 'none';
}

export const MIN_POLLING_INTERVAL_MS = 100;
const DEFAULT_FUNCTION_TIMEOUT_MS = 30 * 60_000;

/**
 * Parses a .NET TimeSpan string ("hh:mm:ss", "d.hh:mm:ss", with optional ".fffffff" fraction) into
 * milliseconds. A plain number is taken as milliseconds.
 */
export function parseTimeSpan(value: unknown, what: string): number {
  const ms = parseTimeSpanMs(value);
  if (ms !== undefined) return ms;
  throw new LocalHostConfigError(
    `host.json: ${what} must be a duration like "00:01:00", got ${JSON.stringify(value)}.`,
  );
}

function readJsonFile(file: string): unknown {
  const text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new LocalHostConfigError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
}

function asObject(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** Case-insensitive property lookup: the host's configuration binder ignores case. */
function prop(obj: Record<string, unknown>, name: string): unknown {
  const key = Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : obj[key];
}

function integer(value: unknown, what: string, min: number, max: number, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new LocalHostConfigError(
      `host.json: ${what} must be an integer between ${min} and ${max}, got ${JSON.stringify(value)}.`,
    );
  }
  return n;
}

export function parseHostJson(json: unknown): HostConfig {
  const root = asObject(json);
  const extensions = asObject(prop(root, 'extensions'));
  const http = asObject(prop(extensions, 'http'));
  const queues = asObject(prop(extensions, 'queues'));

  const rawPrefix = prop(http, 'routePrefix');
  const routePrefix = typeof rawPrefix === 'string' ? rawPrefix.replace(/^\/+|\/+$/g, '') : 'api';

  const batchSize = integer(prop(queues, 'batchSize'), 'extensions.queues.batchSize', 1, 32, 16);
  const newBatchThreshold = integer(
    prop(queues, 'newBatchThreshold'),
    'extensions.queues.newBatchThreshold',
    0,
    10_000,
    Math.floor(batchSize / 2),
  );
  const rawPolling = prop(queues, 'maxPollingInterval');
  const maxPollingIntervalMs =
    rawPolling === undefined ? 60_000 : parseTimeSpan(rawPolling, 'extensions.queues.maxPollingInterval');
  if (maxPollingIntervalMs < MIN_POLLING_INTERVAL_MS) {
    throw new LocalHostConfigError(
      `host.json: extensions.queues.maxPollingInterval must be at least ${MIN_POLLING_INTERVAL_MS} ms.`,
    );
  }
  const rawVisibility = prop(queues, 'visibilityTimeout');
  const visibilityTimeoutMs =
    rawVisibility === undefined ? 0 : parseTimeSpan(rawVisibility, 'extensions.queues.visibilityTimeout');
  const maxDequeueCount = integer(
    prop(queues, 'maxDequeueCount'),
    'extensions.queues.maxDequeueCount',
    1,
    1000,
    5,
  );
  const rawEncoding = prop(queues, 'messageEncoding');
  const encoding = typeof rawEncoding === 'string' ? rawEncoding.toLowerCase() : 'base64';
  if (encoding !== 'base64' && encoding !== 'none') {
    throw new LocalHostConfigError(
      `host.json: extensions.queues.messageEncoding must be "base64" or "none", got ${JSON.stringify(rawEncoding)}.`,
    );
  }

  const rawTimeout = prop(root, 'functionTimeout');
  let functionTimeoutMs: number | undefined = DEFAULT_FUNCTION_TIMEOUT_MS;
  if (rawTimeout === '-1' || rawTimeout === -1) {
    functionTimeoutMs = undefined;
  } else if (rawTimeout !== undefined && rawTimeout !== null) {
    functionTimeoutMs = parseTimeSpan(rawTimeout, 'functionTimeout');
  }

  const logLevel = asObject(prop(asObject(prop(root, 'logging')), 'logLevel'));
  const minLogLevel = parseLogLevel(prop(logLevel, 'default')) ?? 'information';

  return {
    routePrefix,
    queues: {
      batchSize,
      newBatchThreshold,
      maxPollingIntervalMs,
      visibilityTimeoutMs,
      maxDequeueCount,
      messageEncoding: encoding,
    },
    functionTimeoutMs,
    minLogLevel,
  };
}

/** host.json at the app root; defaults when there is none. */
export function readHostConfig(
  root: string,
  env: Record<string, string | undefined> = process.env,
): HostConfig {
  const file = path.join(root, 'host.json');
  return parseHostJson(withHostOverrides(existsSync(file) ? readJsonFile(file) : {}, env));
}

export interface LocalSettings {
  values: Record<string, string>;
  /** `Host.LocalHttpPort`, which `func start` also honours. */
  localHttpPort: number | undefined;
}

/** local.settings.json at the app root, or the file given (absent: nothing). */
export function readLocalSettings(
  root: string,
  file = path.join(root, 'local.settings.json'),
): LocalSettings {
  if (!existsSync(file)) return { values: {}, localHttpPort: undefined };
  const json = asObject(readJsonFile(file));
  if (prop(json, 'IsEncrypted') === true) {
    throw new LocalHostConfigError(`${file} is encrypted; the local host only reads unencrypted settings.`);
  }
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(asObject(prop(json, 'Values')))) {
    if (value === null || value === undefined) continue;
    values[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  const port = Number(prop(asObject(prop(json, 'Host')), 'LocalHttpPort'));
  return { values, localHttpPort: Number.isInteger(port) && port > 0 ? port : undefined };
}

/**
 * Resolves `%SETTING%` app-setting expressions (as in `queueName: '%JOBS_QUEUE%'`) from the environment.
 */
export function resolveSettingExpressions(value: string, env: NodeJS.ProcessEnv, what: string): string {
  return value.replace(/%([^%]+)%/g, (_whole, name: string) => {
    const resolved = env[name];
    if (resolved === undefined || resolved === '') {
      throw new LocalHostConfigError(`${what}: app setting '${name}' (from '%${name}%') is not set.`);
    }
    return resolved;
  });
}

/** Port numbers from env / options: integer 0–65535 (0 = any free port). */
export function parsePort(value: unknown, what: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new LocalHostConfigError(`${what} must be a port number (0-65535), got ${JSON.stringify(value)}.`);
  }
  return n;
}
