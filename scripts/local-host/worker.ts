/**
 * The local host's language worker: a child process, as the Node.js worker is a process of its own
 * under the Functions host. It loads the app (its @azure/functions records into our stand-in for
 * `@azure/functions-core`), runs appStart/appTerminate hooks and invocations with their hooks, and
 * sends results and logs back over IPC (ipc.ts). The host may kill it at any moment (a function
 * timeout); it exits by itself when the host goes away.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { confineModules } from './confine.js';
import { FunctionRegistry, loadIntoRegistry } from './coreApi.js';
import { toWireResponse } from './httpResponse.js';
import { Invoker, type AzureFunctionsModule } from './invoke.js';
import type { HostToWorker, WorkerInit, WorkerToHost } from './ipc.js';
import { createLogger, describeError, type LogRecord } from './logger.js';

const post = (message: WorkerToHost, then?: () => void): void => {
  if (!process.connected) return;
  process.send?.(message, undefined, {}, () => then?.());
};

/**
 * Log records go to the host together, at most LOG_FLUSH_MS after the first of them: a message per
 * line cost the worker a twentieth of its CPU in the audience benchmark (a line per delivery), and
 * one per turn of the event loop still half that. Any other message sends them first, so the host
 * has an invocation's lines before its result.
 */
const LOG_FLUSH_MS = 50;
let logs: LogRecord[] = [];
const flushLogs = (): void => {
  if (!logs.length) return;
  const records = logs;
  logs = [];
  post({ t: 'logs', records });
};
const sendLog = (record: LogRecord): void => {
  if (logs.push(record) === 1) setTimeout(flushLogs, LOG_FLUSH_MS);
};
const send = (message: WorkerToHost, then?: () => void): void => {
  flushLogs();
  post(message, then);
};

// The host is gone (killed, or crashed): so is everything it ran.
process.on('disconnect', () => process.exit(0));

async function main(): Promise<void> {
  const init = JSON.parse(process.argv[2] ?? '{}') as WorkerInit & { files: string[] };
  const root = init.root;
  const logger = createLogger(sendLog, init.minLogLevel);
  // The host's own @azure/functions builds requests and contexts; the app's copy (bundled or not)
  // records into our registry. So the app folder need not hold a node_modules.
  const azf = createRequire(import.meta.url)('@azure/functions') as AzureFunctionsModule;
  const registry = new FunctionRegistry(logger);
  // Before the app's first import: from here on it loads modules only from its folder.
  if (init.confineModules) confineModules(root, (message) => logger.error(message));
  try {
    await loadIntoRegistry(registry, async () => {
      for (const file of init.files) {
        try {
          await import(pathToFileURL(file).href);
        } catch (err) {
          const reason = err instanceof Error ? err.message : String(err);
          throw new Error(`Loading ${path.relative(root, file)} failed: ${reason}`, { cause: err });
        }
      }
    });
  } catch (err) {
    send({ t: 'load-failed', message: (err as Error).message }, () => process.exit(1));
    return;
  }
  registry.lock();
  const byName = new Map(registry.functions.map((f) => [f.metadata.name, f]));
  const invoker = new Invoker({ azf, registry });
  // Metadata as plain data (what the worker reports to the host in its function load responses).
  const functions = registry.functions.map(
    (f) => JSON.parse(JSON.stringify(f.metadata)) as typeof f.metadata,
  );
  send({ t: 'loaded', functions });

  const invoke = async (m: Extract<HostToWorker, { t: 'invoke' }>): Promise<void> => {
    const fn = byName.get(m.fn);
    try {
      if (!fn) throw new Error(`No function named '${m.fn}' was loaded.`);
      if (m.http) {
        const r = m.http;
        const request = new azf.HttpRequest({
          method: r.method,
          url: r.url,
          headers: r.headers,
          params: r.params,
          body: r.body ? { bytes: Buffer.from(r.body) } : undefined,
        });
        const context = invoker.createContext(fn, {
          invocationId: m.id,
          traceParent: r.traceParent,
          traceState: r.traceState,
        });
        const result = await invoker.invoke(fn, [request], context);
        send({ t: 'result', id: m.id, ok: true, http: await toWireResponse(azf, result, r.method) });
      } else {
        const q = m.queue!;
        const context = invoker.createContext(fn, { invocationId: m.id, triggerMetadata: q.triggerMetadata });
        await invoker.invoke(fn, [q.input], context);
        send({ t: 'result', id: m.id, ok: true });
      }
    } catch (err) {
      send({ t: 'result', id: m.id, ok: false, error: describeError(err) });
    }
  };

  process.on('message', (message: HostToWorker) => {
    switch (message.t) {
      case 'start':
        invoker.runAppHooks('appStart', root).then(
          () => send({ t: 'started' }),
          (err: unknown) => send({ t: 'start-failed', message: describeError(err) }),
        );
        return;
      case 'invoke':
        void invoke(message);
        return;
      case 'terminate':
        invoker
          .runAppHooks('appTerminate', root)
          .catch((err: unknown) => logger.error(`appTerminate hook failed: ${describeError(err)}`))
          .finally(() => send({ t: 'terminated' }, () => process.exit(0)));
        return;
    }
  });
}

main().catch((err: unknown) => {
  send({ t: 'load-failed', message: describeError(err) }, () => process.exit(1));
});
