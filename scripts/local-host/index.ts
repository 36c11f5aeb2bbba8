/**
 * A small local stand-in for the Azure Functions host (what `func start` runs), for the sandbox and
 * tests. Like `func start` it runs the app found in the folder it is started in: it loads the app's own
 * function files (package.json `main`), records what they register with `@azure/functions`, and
 * serves HTTP triggers and storage queue triggers. See README.md.
 */
import { existsSync, globSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { QueueServiceClient } from '@azure/storage-queue';
import { confineModules } from './confine.js';
import {
  LocalHostConfigError,
  parsePort,
  readHostConfig,
  readLocalSettings,
  resolveSettingExpressions,
} from './config.js';
import { FunctionRegistry, loadIntoRegistry, type RegisteredFunction } from './coreApi.js';
import { LocalHttpServer, PortInUseError, type AuthLevel, type HttpFunction } from './httpServer.js';
import { Invoker, type AzureFunctionsModule } from './invoke.js';
import { consoleSink, createLogger, describeError, type LogSink } from './logger.js';
import { QueueListener } from './queueListener.js';
import { RouteTemplate } from './routes.js';

export { LocalHostConfigError } from './config.js';
export { PortInUseError } from './httpServer.js';
export type { LogRecord, LogSink, LogLevel } from './logger.js';

export interface LocalHostOptions {
  /** Function app root (package.json, host.json, local.settings.json). Default: LOCAL_HOST_ROOT, else cwd. */
  root?: string;
  /** A local.settings.json elsewhere than in the root (the staged dist/deploy has none). */
  settingsFile?: string;
  /** Default: FUNCTIONS_HTTP_PORT, else local.settings.json Host.LocalHttpPort, else 7071. 0 picks a free port. */
  port?: number;
  /** Default: FUNCTIONS_HTTP_HOST, else 127.0.0.1. */
  host?: string;
  /**
   * Settings put into process.env before the app loads (they win over local.settings.json and the
   * existing environment). Everything the host changed in process.env is restored by stop().
   */
  env?: Record<string, string | undefined>;
  /** Where log records go. Default: one console line each. */
  log?: LogSink;
  /** How long stop() waits for in-flight invocations. Default 30 s. */
  shutdownTimeoutMs?: number;
  /**
   * Refuse modules the app resolves outside its root (confine.ts), as Azure has nothing but the
   * deployed folder. Process-wide and kept after stop(): for a host that owns its process.
   */
  confineModules?: boolean;
}

export interface LocalHostFunction {
  name: string;
  trigger: 'http' | 'queue';
  /** HTTP: methods, route (after the prefix), full URL template and auth level. */
  methods?: string[];
  route?: string;
  url?: string;
  authLevel?: AuthLevel;
  /** Queue: resolved queue name and the app setting holding the connection string. */
  queueName?: string;
  connection?: string;
}

export interface LocalHost {
  /** Base URL of the HTTP server, e.g. http://127.0.0.1:7071 */
  url: string;
  port: number;
  functions: LocalHostFunction[];
  /** Stops polling and accepting requests, waits for in-flight invocations, runs appTerminate hooks. */
  stop(): Promise<void>;
}

const DEFAULT_PORT = 7071;
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const supportedTriggers = new Set(['httpTrigger', 'queueTrigger']);

/** Loads the files matched by package.json `main` (a path or glob relative to the root). */
function functionFiles(root: string): string[] {
  const pkgFile = path.join(root, 'package.json');
  if (!existsSync(pkgFile)) throw new LocalHostConfigError(`No package.json in ${root}.`);
  let main: unknown;
  try {
    main = (JSON.parse(readFileSync(pkgFile, 'utf8')) as { main?: unknown }).main;
  } catch (err) {
    throw new LocalHostConfigError(`${pkgFile} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof main !== 'string' || main.trim() === '') {
    throw new LocalHostConfigError(
      `${pkgFile} has no "main"; set it to the function files, e.g. "dist/functions/*.js".`,
    );
  }
  const files = globSync(main, { cwd: root })
    .map((f) => path.resolve(root, f))
    .filter((f) => /\.(c|m)?js$/.test(f))
    .sort();
  if (files.length === 0) {
    throw new LocalHostConfigError(
      `No files match package.json "main" (${main}) under ${root}. Did you build the app (npm run build)?`,
    );
  }
  return files;
}

let loadGeneration = 0;

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function isDisabled(name: string, env: NodeJS.ProcessEnv): boolean {
  const value = env[`AzureWebJobs.${name}.Disabled`] ?? env[`AzureWebJobs_${name}_Disabled`];
  return value !== undefined && /^(true|1)$/i.test(value.trim());
}

function triggerOf(fn: RegisteredFunction): Record<string, unknown> | undefined {
  return Object.values(fn.metadata.bindings).find(
    (b) => b.direction === 'in' && typeof b.type === 'string' && b.type.endsWith('Trigger'),
  );
}

export async function startLocalHost(options: LocalHostOptions = {}): Promise<LocalHost> {
  const root = path.resolve(options.root ?? process.env.LOCAL_HOST_ROOT ?? process.cwd());
  const sink = options.log ?? consoleSink;

  // --- Settings: options.env wins, then the environment, then local.settings.json Values.
  const savedEnv = new Map<string, string | undefined>();
  const setEnv = (key: string, value: string | undefined): void => {
    if (!savedEnv.has(key)) savedEnv.set(key, process.env[key]);
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  };
  const restoreEnv = (): void => {
    for (const [key, value] of savedEnv) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    savedEnv.clear();
  };

  const cleanups: (() => Promise<void>)[] = [];
  try {
    for (const [key, value] of Object.entries(options.env ?? {})) setEnv(key, value);
    const settings = readLocalSettings(root, options.settingsFile);
    for (const [key, value] of Object.entries(settings.values)) {
      if (process.env[key] === undefined) setEnv(key, value);
    }
    const env = process.env;

    const hostConfig = readHostConfig(root);
    const logger = createLogger(sink, hostConfig.minLogLevel);
    const port =
      options.port ??
      (env.FUNCTIONS_HTTP_PORT ? parsePort(env.FUNCTIONS_HTTP_PORT, 'FUNCTIONS_HTTP_PORT') : undefined) ??
      settings.localHttpPort ??
      DEFAULT_PORT;
    const host = options.host ?? env.FUNCTIONS_HTTP_HOST ?? '127.0.0.1';
    const maxBodyBytes = env.FUNCTIONS_MAX_BODY_BYTES
      ? Number(env.FUNCTIONS_MAX_BODY_BYTES)
      : DEFAULT_MAX_BODY_BYTES;
    if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 0) {
      throw new LocalHostConfigError(`FUNCTIONS_MAX_BODY_BYTES must be a non-negative integer.`);
    }
    const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 30_000;
    // How long a message being handled stays hidden (renewed at half-time). The real host uses 10
    // minutes; soak tests that SIGKILL the host lower it so orphaned messages come back sooner.
    const leaseMs = env.LOCAL_HOST_QUEUE_LEASE_MS ? Number(env.LOCAL_HOST_QUEUE_LEASE_MS) : undefined;
    if (leaseMs !== undefined && (!Number.isInteger(leaseMs) || leaseMs < 2000)) {
      throw new LocalHostConfigError(`LOCAL_HOST_QUEUE_LEASE_MS must be an integer of at least 2000 (ms).`);
    }

    // --- Load the app: its @azure/functions (its own, bundled or not) records into our registry. The
    // host builds requests and contexts with its own copy: the app folder need not hold a node_modules.
    const azf = createRequire(import.meta.url)('@azure/functions') as AzureFunctionsModule;
    const registry = new FunctionRegistry(logger);
    const files = functionFiles(root);
    if (options.confineModules) confineModules(root, (message) => logger.error(message));
    const generation = ++loadGeneration;
    await loadIntoRegistry(registry, async () => {
      for (const file of files) {
        const url = pathToFileURL(file);
        // A second host in the same process must evaluate the files again to get registrations.
        if (generation > 1) url.search = `local-host=${generation}`;
        try {
          await import(url.href);
        } catch (err) {
          const reason = err instanceof Error ? err.message : String(err);
          throw new Error(`Loading ${path.relative(root, file)} failed: ${reason}`, { cause: err });
        }
      }
    });
    registry.lock();
    if (registry.functions.length === 0) {
      throw new LocalHostConfigError(
        `The files matched by package.json "main" registered no functions (were they loaded before the ` +
          `local host, with @azure/functions already in test mode?): ${files.map((f) => path.relative(root, f)).join(', ')}`,
      );
    }

    const invoker = new Invoker({ azf, registry, logger, functionTimeoutMs: hostConfig.functionTimeoutMs });

    // --- Work out what to serve.
    const httpFunctions: HttpFunction[] = [];
    const queueListeners: QueueListener[] = [];
    const described: LocalHostFunction[] = [];
    const clients = new Map<string, QueueServiceClient>();
    for (const fn of registry.functions) {
      const name = fn.metadata.name;
      const trigger = triggerOf(fn);
      const type = String(trigger?.type);
      if (!trigger || !supportedTriggers.has(type)) {
        logger.warn(
          `Function '${name}' has a ${type} trigger, which the local host does not support; skipped.`,
        );
        continue;
      }
      if (isDisabled(name, env)) {
        logger.info(`Function '${name}' is disabled (AzureWebJobs.${name}.Disabled).`);
        continue;
      }
      const outputs = Object.entries(fn.metadata.bindings).filter(
        ([key, b]) => b !== trigger && !(key === '$return' && b.type === 'http'),
      );
      if (outputs.length > 0) {
        logger.warn(
          `Function '${name}': bindings ${outputs.map(([k, b]) => `${k} (${String(b.type)})`).join(', ')} ` +
            'are ignored by the local host (only trigger bindings are supported).',
        );
      }

      if (type === 'httpTrigger') {
        const route = String(trigger.route ?? name).replace(/^\/+|\/+$/g, '');
        const methods = (Array.isArray(trigger.methods) ? trigger.methods : ['GET', 'POST']).map((m) =>
          String(m).toUpperCase(),
        );
        const authLevel = String(trigger.authLevel ?? 'function').toLowerCase() as AuthLevel;
        if (!['anonymous', 'function', 'admin'].includes(authLevel)) {
          throw new LocalHostConfigError(
            `Function '${name}': unknown authLevel '${String(trigger.authLevel)}'.`,
          );
        }
        httpFunctions.push({ fn, name, methods, route, authLevel, template: new RouteTemplate(route) });
        described.push({ name, trigger: 'http', methods, route, authLevel });
      } else {
        const queueName = resolveSettingExpressions(
          String(trigger.queueName ?? ''),
          env,
          `Function '${name}' queueName`,
        );
        if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(queueName)) {
          throw new LocalHostConfigError(
            `Function '${name}': '${queueName}' is not a valid queue name (3-63 lower-case letters, digits and single hyphens).`,
          );
        }
        const connection =
          typeof trigger.connection === 'string' && trigger.connection
            ? trigger.connection
            : 'AzureWebJobsStorage';
        // Like the host: the setting itself, else the same name with an "AzureWebJobs" prefix.
        const connectionString = env[connection] || env[`AzureWebJobs${connection}`];
        if (!connectionString) {
          throw new LocalHostConfigError(
            `Function '${name}': app setting '${connection}' (the storage connection string) is not set; ` +
              'add it to local.settings.json Values or the environment, e.g. "UseDevelopmentStorage=true" for Azurite.',
          );
        }
        let client = clients.get(connectionString);
        if (!client) {
          try {
            client = QueueServiceClient.fromConnectionString(connectionString, {
              retryOptions: {
                maxTries: 3,
                retryDelayInMs: 500,
                maxRetryDelayInMs: 4000,
                tryTimeoutInMs: 60_000,
              },
            });
          } catch (err) {
            throw new LocalHostConfigError(
              `Function '${name}': app setting '${connection}' is not a valid connection string (${(err as Error).message}).`,
            );
          }
          clients.set(connectionString, client);
        }
        queueListeners.push(
          new QueueListener({
            fn,
            queueName,
            queue: client.getQueueClient(queueName),
            poisonQueue: client.getQueueClient(`${queueName}-poison`),
            options: hostConfig.queues,
            invoker,
            logger,
            ...(leaseMs !== undefined ? { leaseMs } : {}),
          }),
        );
        described.push({ name, trigger: 'queue', queueName, connection });
      }
    }

    // --- HTTP server (also when there are no HTTP functions: the port is part of the contract).
    const functionKey = env.FUNCTIONS_KEY || undefined;
    const masterKey = env.FUNCTIONS_MASTER_KEY || undefined;
    let markReady!: () => void;
    const ready = new Promise<void>((resolve) => (markReady = resolve));
    const server = new LocalHttpServer({
      azf,
      invoker,
      logger,
      functions: httpFunctions,
      routePrefix: hostConfig.routePrefix,
      maxBodyBytes,
      functionKey,
      masterKey,
      ready,
    });
    const actualPort = await server.listen(port, host);
    cleanups.push(() => server.close(1000));
    const url = `http://${urlHost(host)}:${actualPort}`;
    const prefix = hostConfig.routePrefix === '' ? '' : `/${hostConfig.routePrefix}`;
    for (const f of described) {
      if (f.trigger === 'http') f.url = `${url}${prefix}/${f.route}`.replace(/\/$/, '');
    }
    if (
      functionKey === undefined &&
      masterKey === undefined &&
      httpFunctions.some((f) => f.authLevel !== 'anonymous')
    ) {
      logger.warn(
        'FUNCTIONS_KEY is not set: function- and admin-level HTTP functions accept requests without a key.',
      );
    }

    // --- appStart hooks, then triggers.
    await invoker.runAppHooks('appStart', root);
    markReady();
    for (const listener of queueListeners) listener.start();
    cleanups.push(async () => {
      await Promise.all(queueListeners.map((l) => l.stop(1000)));
    });

    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopping ??= (async () => {
        logger.info('Stopping: no new messages or requests; waiting for in-flight invocations.');
        const results = await Promise.all([
          ...queueListeners.map(async (l) => ({ name: l.name, left: await l.stop(shutdownTimeoutMs) })),
          server.close(shutdownTimeoutMs).then(() => ({ name: 'http', left: 0 })),
        ]);
        for (const r of results) {
          if (r.left > 0) {
            logger.warn(
              `${r.left} invocation(s) of '${r.name}' still running after ${shutdownTimeoutMs} ms; not waiting.`,
            );
          }
        }
        try {
          await invoker.runAppHooks('appTerminate', root);
        } catch (err) {
          logger.error(`appTerminate hook failed: ${describeError(err)}`);
        }
        restoreEnv();
        logger.info('Stopped.');
      })();
      return stopping;
    };

    return { url, port: actualPort, functions: described, stop };
  } catch (err) {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    restoreEnv();
    throw err;
  }
}

/** For the entry: errors the user can fix are printed without a stack trace. */
export function isExpectedStartupError(err: unknown): err is LocalHostConfigError | PortInUseError {
  return err instanceof LocalHostConfigError || err instanceof PortInUseError;
}
