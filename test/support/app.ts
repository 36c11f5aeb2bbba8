import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TableClient } from '@azure/data-tables';
import { QueueClient } from '@azure/storage-queue';
import { deployDir } from '../../scripts/deploy/layout.js';
import { startLocalHostProcess } from '../../scripts/local-host/child.js';
import { startLocalHost, type LocalHost } from '../../scripts/local-host/index.js';
import type { LogRecord } from '../../scripts/local-host/logger.js';
import { startAzurite, type Azurite } from './azurite.js';
import { onFreePorts } from './ports.js';
import { startFakeConnector, type FakeConnector, type FakeConnectorOptions } from './fakeConnector.js';

/**
 * The whole app for a test: real Azurite, the staged deployment (dist/deploy, built by `npm test`:
 * what azd uploads) served by the local host started in this process (the app runs in its language
 * worker, a child process, as under the real host), and a Teams-like connector as the bot's service URL.
 */

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The folder azd uploads and the local host runs. */
export const APP_DIR = deployDir(ROOT);
export const FUNCTION_KEY = 'test-function-key';
export const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const BOT_ID = '28:test-bot';

export interface TestApp {
  azurite: Azurite;
  connector: FakeConnector;
  host: LocalHost;
  logs: LogRecord[];
  url: string;
  env: Record<string, string>;
  table(name: string): TableClient;
  queue(name: string): QueueClient;
  post(route: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  get(route: string, headers?: Record<string, string>): Promise<Response>;
  stop(): Promise<void>;
}

export interface StartAppOptions {
  /** Extra settings; a function gets the fake connector first (e.g. to name its port). */
  env?: Record<string, string> | ((connector: FakeConnector) => Record<string, string>);
  connector?: FakeConnectorOptions;
  /**
   * Run the local host as its own Node process (`node dist/scripts/local-host.js`) instead of in
   * this one: for what is process-wide, like the telemetry SDK. stop() ends it with SIGTERM, so
   * appTerminate hooks run. Its log lines are in `logs` as plain messages.
   */
  childProcess?: boolean;
  /** With childProcess: the app folder the host starts in. Default APP_DIR. */
  appDir?: string;
}

export async function startApp(options: StartAppOptions = {}): Promise<TestApp> {
  const azurite = await startAzurite();
  const connector = await startFakeConnector({ rateLimits: false, ...options.connector });
  const env: Record<string, string> = {
    AzureWebJobsStorage: azurite.connectionString,
    FUNCTIONS_KEY: FUNCTION_KEY,
    // The notification routes check keys themselves (shared/auth/): the same key as the host's.
    PRODUCER_KEYS: FUNCTION_KEY,
    MicrosoftAppId: '',
    // Tests stand in for Teams without tokens (test/auth.test.ts sets an app ID to check them).
    ALLOW_UNAUTHENTICATED_ACTIVITIES: 'true',
    BOT_SERVICE_URL: connector.url,
    DEFAULT_TENANT_ID: TENANT,
    ...(typeof options.env === 'function' ? options.env(connector) : options.env),
  };
  const logs: LogRecord[] = [];
  const host = options.childProcess
    ? await startChildHost(options.appDir ?? APP_DIR, env, logs)
    : // Confined to its folder, as the entry confines by default and Azure has nothing else.
      await startLocalHost({ root: APP_DIR, port: 0, env, log: (r) => logs.push(r), confineModules: true });
  const url = host.url;
  return {
    azurite,
    connector,
    host,
    logs,
    url,
    env,
    table: (name) =>
      TableClient.fromConnectionString(azurite.connectionString, name, { allowInsecureConnection: true }),
    queue: (name) => new QueueClient(azurite.connectionString, name),
    post: (route, body, headers = {}) =>
      fetch(`${url}/api/${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    get: (route, headers = {}) => fetch(`${url}/api/${route}`, { headers }),
    async stop() {
      await host.stop();
      await connector.stop();
      await azurite.stop();
    },
  };
}

/** The compiled local host in a child process, on a free port; resolves once it is ready. */
async function startChildHost(
  root: string,
  env: Record<string, string>,
  logs: LogRecord[],
): Promise<LocalHost> {
  return onFreePorts(1, async ([port]) => {
    const host = await startLocalHostProcess({
      root,
      port: port!,
      env: { PATH: process.env.PATH ?? '', ...env },
      onLine: (message) => logs.push({ level: 'information', category: 'host', message }),
    });
    return {
      url: host.url,
      port: port!,
      functions: [],
      // As at a function timeout, through the entry's SIGUSR2 (scripts/local-host.ts).
      restartWorker: () => void host.child.kill('SIGUSR2'),
      workerRestarts: 0,
      stop: () => host.stop(),
    };
  });
}

/** The settings of a local host process of its own (startLocalHostProcess) on this Azurite and connector. */
export function hostProcessEnv(azurite: Azurite, connector: FakeConnector, key: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    AzureWebJobsStorage: azurite.connectionString,
    FUNCTIONS_KEY: key,
    MicrosoftAppId: '',
    BOT_SERVICE_URL: connector.url,
  };
}

/** Polls until `check` returns a value that is not undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
