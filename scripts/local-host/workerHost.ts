/**
 * The host's side of the language worker (worker.ts): starts it as a child process, sends it
 * invocations, and enforces host.json `functionTimeout` as the Functions host does. Past the timeout
 * the host restarts the worker process: the invocation that timed out and every other invocation
 * running on that worker are stopped and fail, and their queue messages come back after
 * `visibilityTimeout` like any failed invocation's
 * (https://learn.microsoft.com/azure/azure-functions/functions-scale#timeout: "When an execution
 * exceeds this duration, a timeout error occurs and the language worker process restarts";
 * Azure/azure-functions-host src/WebJobs.Script.WebHost/WebScriptHostExceptionHandler.cs,
 * OnTimeoutExceptionAsync; issue #8720). A worker that exits on its own is restarted the same way.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LocalHostConfigError } from './config.js';
import type { CoreFunctionMetadata } from './coreApi.js';
import type { HostToWorker, WireHttpRequest, WireHttpResponse, WorkerInit, WorkerToHost } from './ipc.js';
import type { Logger } from './logger.js';

export class FunctionTimeoutError extends Error {
  override name = 'FunctionTimeoutError';
}

export class WorkerRestartedError extends Error {
  override name = 'WorkerRestartedError';
}

/** `hh:mm:ss`, as the host prints a timeout. */
export function describeTimeout(ms: number): string {
  const s = Math.round(ms / 1000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}

/** The compiled worker beside this module, or (running from TypeScript sources: tests) the build's. */
export function workerScript(): string {
  for (const candidate of ['./worker.js', '../../dist/scripts/local-host/worker.js']) {
    const file = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(file)) return file;
  }
  throw new LocalHostConfigError(
    'The local host worker (dist/scripts/local-host/worker.js) is missing: run npm run build.',
  );
}

interface Pending {
  fn: string;
  resolve: (http: WireHttpResponse | undefined) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

interface Worker {
  child: ChildProcess;
  /** Loaded and its appStart hooks ran. */
  ready: Promise<void>;
  pending: Map<string, Pending>;
  gone: boolean;
}

export interface WorkerHostOptions {
  init: WorkerInit & { files: string[] };
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** undefined: no limit (functionTimeout "-1"). */
  functionTimeoutMs: number | undefined;
}

export type Invocation =
  | { http: WireHttpRequest; queue?: undefined }
  | { queue: { input: unknown; triggerMetadata: Record<string, unknown> }; http?: undefined };

const RESTART_DELAYS_MS = [0, 1000, 2000, 5000, 10_000];

export class WorkerHost {
  readonly #o: WorkerHostOptions;
  #current: Worker | undefined;
  #stopping = false;
  /** The first worker ran its appStart hooks: from now on a worker that goes is replaced. */
  #live = false;
  #restarts = 0;
  #failedStarts = 0;
  /** What the first worker registered. */
  functions: CoreFunctionMetadata[] = [];

  constructor(o: WorkerHostOptions) {
    this.#o = o;
  }

  /** Times the worker was restarted (a function timeout, or it exited). */
  get restarts(): number {
    return this.#restarts;
  }

  /** Starts the first worker and waits for its registrations; appStart hooks wait for `startApp`. */
  async load(): Promise<void> {
    const { worker, loaded } = this.#spawn();
    this.#current = worker;
    this.functions = await loaded;
  }

  /** Runs appStart hooks in the first worker; invocations wait for this. */
  async startApp(): Promise<void> {
    const worker = this.#current!;
    worker.ready = this.#start(worker);
    await worker.ready;
    this.#live = true;
  }

  async invoke(
    fn: string,
    invocationId: string,
    reason: string,
    what: Invocation,
  ): Promise<WireHttpResponse | undefined> {
    const { logger } = this.#o;
    const extra = { functionName: fn, invocationId };
    const started = performance.now();
    logger.debug(`Executing '${fn}' (${reason})`, extra);
    let succeeded = false;
    try {
      const result = await this.#dispatch(fn, invocationId, reason, what);
      succeeded = true;
      return result;
    } catch (err) {
      logger.error(`'${fn}' failed: ${(err as Error).message}`, extra);
      throw err;
    } finally {
      const ms = Math.round(performance.now() - started);
      logger.debug(`Executed '${fn}' (${succeeded ? 'Succeeded' : 'Failed'}, ${ms} ms)`, extra);
    }
  }

  /**
   * Restarts the worker as at a function timeout: every invocation running on it fails. The local
   * host's own fault injection (SIGUSR2 to the host process: see README).
   */
  restart(why: string): void {
    const worker = this.#current;
    if (worker && !worker.gone)
      this.#replace(
        worker,
        why,
        () => new WorkerRestartedError(`the language worker was restarted (${why})`),
      );
  }

  /** Runs appTerminate hooks and ends the worker (killed after `timeoutMs`). */
  async stop(timeoutMs = 5000): Promise<void> {
    this.#stopping = true;
    const worker = this.#current;
    if (!worker || worker.gone) return;
    const exited = new Promise<void>((resolve) => worker.child.once('exit', () => resolve()));
    worker.child.send({ t: 'terminate' } satisfies HostToWorker);
    const timer = setTimeout(() => worker.child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  async #dispatch(
    fn: string,
    id: string,
    reason: string,
    what: Invocation,
  ): Promise<WireHttpResponse | undefined> {
    for (;;) {
      const worker = this.#current;
      if (!worker || this.#stopping) throw new WorkerRestartedError('the local host is stopping');
      await worker.ready.catch(() => undefined);
      if (worker !== this.#current || worker.gone) continue; // replaced while we waited
      return new Promise<WireHttpResponse | undefined>((resolve, reject) => {
        const timeoutMs = this.#o.functionTimeoutMs;
        const pending: Pending = { fn, resolve, reject, timer: undefined };
        if (timeoutMs !== undefined) {
          pending.timer = setTimeout(() => this.#timedOut(worker, id, fn, timeoutMs), timeoutMs);
        }
        worker.pending.set(id, pending);
        worker.child.send({ t: 'invoke', id, fn, reason, ...what } satisfies HostToWorker);
      });
    }
  }

  #timedOut(worker: Worker, id: string, fn: string, timeoutMs: number): void {
    if (worker.gone || !worker.pending.has(id)) return;
    const others = worker.pending.size - 1;
    this.#o.logger.error(
      `Timeout value of ${describeTimeout(timeoutMs)} was exceeded by function '${fn}' (Id: '${id}'). ` +
        `Restarting the language worker process, which stops ${others} other invocation(s) running on it.`,
      { functionName: fn, invocationId: id },
    );
    this.#replace(worker, `function '${fn}' (Id: '${id}') timed out`, (other) =>
      other === id
        ? new FunctionTimeoutError(
            `Timeout value of ${describeTimeout(timeoutMs)} was exceeded by function '${fn}'.`,
          )
        : new WorkerRestartedError(
            `the language worker was restarted: function '${fn}' (Id: '${id}') timed out`,
          ),
    );
  }

  /** Kills `worker`, fails everything it ran, and starts a new one. */
  #replace(worker: Worker, why: string, errorFor: (id: string) => Error): void {
    if (worker.gone) return;
    worker.gone = true;
    worker.child.kill('SIGKILL');
    for (const [id, p] of worker.pending) {
      clearTimeout(p.timer);
      p.reject(errorFor(id));
    }
    worker.pending.clear();
    if (this.#stopping || !this.#live || worker !== this.#current) return;
    this.#restarts++;
    this.#o.logger.warn(`Restarting the language worker (${why}).`);
    const { worker: next, loaded } = this.#spawn();
    this.#current = next;
    next.ready = (async () => {
      const delay = RESTART_DELAYS_MS[Math.min(this.#failedStarts, RESTART_DELAYS_MS.length - 1)]!;
      if (delay) await new Promise((r) => setTimeout(r, delay));
      await loaded;
      await this.#start(next);
      this.#failedStarts = 0;
    })();
    next.ready.catch((err: unknown) => {
      this.#failedStarts++;
      this.#o.logger.error(`The restarted language worker failed to start: ${(err as Error).message}`);
      this.#replace(
        next,
        'it failed to start',
        () => new WorkerRestartedError('the language worker failed to start'),
      );
    });
  }

  #spawn(): { worker: Worker; loaded: Promise<CoreFunctionMetadata[]> } {
    const { init, env, logger } = this.#o;
    const child = fork(workerScript(), [JSON.stringify(init)], {
      cwd: init.root,
      env,
      // Not the host's own flags (a parent's --import watchdog would stop the worker at once).
      execArgv: [],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const worker: Worker = { child, ready: Promise.resolve(), pending: new Map(), gone: false };
    let settleLoad: { resolve: (f: CoreFunctionMetadata[]) => void; reject: (e: Error) => void } | undefined;
    const loaded = new Promise<CoreFunctionMetadata[]>(
      (resolve, reject) => (settleLoad = { resolve, reject }),
    );
    loaded.catch(() => undefined);
    child.on('message', (m: WorkerToHost) => {
      switch (m.t) {
        case 'loaded':
          return settleLoad?.resolve(m.functions);
        case 'load-failed':
          return settleLoad?.reject(new LocalHostConfigError(m.message));
        case 'logs':
          for (const r of m.records) {
            logger.log(r.level, r.message, {
              category: r.category,
              functionName: r.functionName,
              invocationId: r.invocationId,
            });
          }
          return;
        case 'result': {
          const p = worker.pending.get(m.id);
          if (!p) return; // timed out already
          worker.pending.delete(m.id);
          clearTimeout(p.timer);
          if (m.ok) p.resolve(m.http);
          else p.reject(new Error(m.error));
          return;
        }
        default:
          child.emit(`worker:${m.t}`, m);
      }
    });
    // Sending to a worker that is just exiting fails; its exit (below) fails what it ran.
    child.on('error', (err) => {
      if (!worker.gone) logger.warn(`The language worker's channel failed: ${err.message}`);
    });
    child.once('exit', (code, signal) => {
      settleLoad?.reject(
        new LocalHostConfigError(`The language worker exited (${code ?? signal}) while loading the app.`),
      );
      if (worker.gone || this.#stopping) return;
      this.#o.logger.error(`The language worker exited (${code ?? signal}); restarting it.`);
      this.#replace(
        worker,
        'it exited',
        () => new WorkerRestartedError(`the language worker exited (${code ?? signal})`),
      );
    });
    return { worker, loaded };
  }

  /** appStart hooks in `worker`. */
  #start(worker: Worker): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = (m: WorkerToHost): void => {
        worker.child.off('worker:started', done);
        worker.child.off('worker:start-failed', done);
        worker.child.off('exit', exited);
        if (m.t === 'started') resolve();
        else reject(new Error(`appStart hook failed: ${m.t === 'start-failed' ? m.message : ''}`));
      };
      const exited = (): void =>
        reject(new Error('the language worker exited before its appStart hooks ran'));
      worker.child.on('worker:started', done);
      worker.child.on('worker:start-failed', done);
      worker.child.once('exit', exited);
      worker.child.send({ t: 'start' } satisfies HostToWorker);
    });
  }
}
