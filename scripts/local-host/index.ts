/**
 * A small local stand-in for the Azure Functions host (what `func start` runs), for the sandbox and
 * tests. Like `func start` it runs the app found in the folder it is started in. It starts the app in
 * a language worker process of its own (worker.ts, with that folder as its working directory), which
 * loads the app's function files (package.json `main`) and reports what they register with
 * `@azure/functions`; the host then serves HTTP triggers and storage queue triggers, and restarts the
 * worker past host.json `functionTimeout` as Azure does (workerHost.ts). See README.md.
 */
import { existsSync, globSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { LocalHostConfigError, parsePort, readHostConfig, readLocalSettings } from './config.js';
import { LocalHttpServer, PortInUseError } from './httpServer.js';
import { consoleSink, createLogger, type LogSink } from './logger.js';
import { planTriggers, type LocalHostFunction } from './triggers.js';
import { WorkerHost } from './workerHost.js';

export { LocalHostConfigError } from './config.js';
export { PortInUseError } from './httpServer.js';
export type { LogRecord, LogSink, LogLevel } from './logger.js';
export type { LocalHostFunction } from './triggers.js';

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
   * Settings for the host and the app: they win over this process's environment, which wins over
   * local.settings.json Values. The app's worker process gets them as its environment; this
   * process's own environment is left as it is.
   */
  env?: Record<string, string | undefined>;
  /** Where log records go. Default: one console line each. */
  log?: LogSink;
  /** How long stop() waits for in-flight invocations. Default 30 s. */
  shutdownTimeoutMs?: number;
  /**
   * Refuse modules the app resolves outside its root (confine.ts), as Azure has nothing but the
   * deployed folder. Applies in the app's worker process (every restart of it), not in the caller's.
   */
  confineModules?: boolean;
}

export interface LocalHost {
  /** Base URL of the HTTP server, e.g. http://127.0.0.1:7071 */
  url: string;
  port: number;
  functions: LocalHostFunction[];
  /**
   * Restarts the language worker as the host does past `functionTimeout`: every invocation running
   * on it fails (queue messages come back after `visibilityTimeout`). For fault injection.
   */
  restartWorker(why?: string): void;
  /** Times the worker was restarted (timeouts, exits, restartWorker). */
  readonly workerRestarts: number;
  /** Stops polling and accepting requests, waits for in-flight invocations, runs appTerminate hooks. */
  stop(): Promise<void>;
}

const DEFAULT_PORT = 7071;
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** The files matched by package.json `main` (a path or glob relative to the root). */
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

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** The environment of the host and its worker: options.env, then this process's, then local.settings.json. */
function hostEnvironment(
  root: string,
  options: LocalHostOptions,
): { env: NodeJS.ProcessEnv; localHttpPort?: number } {
  const settings = readLocalSettings(root, options.settingsFile);
  const env: NodeJS.ProcessEnv = { ...settings.values, ...process.env };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return { env, ...(settings.localHttpPort ? { localHttpPort: settings.localHttpPort } : {}) };
}

export async function startLocalHost(options: LocalHostOptions = {}): Promise<LocalHost> {
  const root = path.resolve(options.root ?? process.env.LOCAL_HOST_ROOT ?? process.cwd());
  const sink = options.log ?? consoleSink;
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const { env, localHttpPort } = hostEnvironment(root, options);
    const hostConfig = readHostConfig(root, env);
    const logger = createLogger(sink, hostConfig.minLogLevel);
    const port =
      options.port ??
      (env.FUNCTIONS_HTTP_PORT ? parsePort(env.FUNCTIONS_HTTP_PORT, 'FUNCTIONS_HTTP_PORT') : undefined) ??
      localHttpPort ??
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

    // --- The app, in its worker process: what it registers decides what is served. The worker
    // builds requests and contexts with the host's own @azure/functions (the app's, bundled or not,
    // records into our registry): the app folder need not hold a node_modules.
    const files = functionFiles(root);
    const workers = new WorkerHost({
      init: {
        root,
        files,
        minLogLevel: hostConfig.minLogLevel,
        confineModules: options.confineModules ?? false,
      },
      env,
      logger,
      functionTimeoutMs: hostConfig.functionTimeoutMs,
    });
    cleanups.push(() => workers.stop(1000));
    await workers.load();
    if (workers.functions.length === 0) {
      throw new LocalHostConfigError(
        `The files matched by package.json "main" registered no functions (were they loaded before the ` +
          `local host, with @azure/functions already in test mode?): ${files.map((f) => path.relative(root, f)).join(', ')}`,
      );
    }
    const plan = planTriggers({
      functions: workers.functions,
      env,
      hostConfig,
      logger,
      leaseMs,
      invokeQueue: (name) => async (input, triggerMetadata, invocationId, reason) => {
        await workers.invoke(name, invocationId, reason, { queue: { input, triggerMetadata } });
      },
    });

    // --- HTTP server (also when there are no HTTP functions: the port is part of the contract).
    const functionKey = env.FUNCTIONS_KEY || undefined;
    const masterKey = env.FUNCTIONS_MASTER_KEY || undefined;
    let markReady!: () => void;
    const ready = new Promise<void>((resolve) => (markReady = resolve));
    const server = new LocalHttpServer({
      invoke: async (fn, request, invocationId) =>
        (await workers.invoke(
          fn.name,
          invocationId,
          `HTTP ${request.method} ${new URL(request.url).pathname}`,
          {
            http: request,
          },
        ))!,
      logger,
      functions: plan.http,
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
    for (const f of plan.described) {
      if (f.trigger === 'http') f.url = `${url}${prefix}/${f.route}`.replace(/\/$/, '');
    }
    if (
      functionKey === undefined &&
      masterKey === undefined &&
      plan.http.some((f) => f.authLevel !== 'anonymous')
    ) {
      logger.warn(
        'FUNCTIONS_KEY is not set: function- and admin-level HTTP functions accept requests without a key.',
      );
    }

    // --- appStart hooks, then triggers.
    await workers.startApp();
    markReady();
    for (const listener of plan.queues) listener.start();
    cleanups.push(async () => {
      await Promise.all(plan.queues.map((l) => l.stop(1000)));
    });

    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopping ??= (async () => {
        logger.info('Stopping: no new messages or requests; waiting for in-flight invocations.');
        const results = await Promise.all([
          ...plan.queues.map(async (l) => ({ name: l.name, left: await l.stop(shutdownTimeoutMs) })),
          server.close(shutdownTimeoutMs).then(() => ({ name: 'http', left: 0 })),
        ]);
        for (const r of results) {
          if (r.left > 0) {
            logger.warn(
              `${r.left} invocation(s) of '${r.name}' still running after ${shutdownTimeoutMs} ms; not waiting.`,
            );
          }
        }
        // appTerminate hooks run in the worker, which then exits.
        await workers.stop();
        logger.info('Stopped.');
      })();
      return stopping;
    };

    return {
      url,
      port: actualPort,
      functions: plan.described,
      restartWorker: (why = 'restarted on request') => workers.restart(why),
      get workerRestarts() {
        return workers.restarts;
      },
      stop,
    };
  } catch (err) {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    throw err;
  }
}

/** For the entry: errors the user can fix are printed without a stack trace. */
export function isExpectedStartupError(err: unknown): err is LocalHostConfigError | PortInUseError {
  return err instanceof LocalHostConfigError || err instanceof PortInUseError;
}
