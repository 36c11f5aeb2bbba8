/**
 * The compiled local host (`dist/scripts/local-host.js`) as a child process, for what must run apart
 * from the caller: the soak (a SIGKILL must be a real crash), the telemetry tests (the SDK is
 * process-wide) and the start-up benchmark. Resolves once the host prints its ready line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface LocalHostProcessOptions {
  /** The app folder (package.json, host.json, the code): the host starts in it, as `func start` does. */
  root: string;
  /** The whole environment of the child (pass process.env along if it should inherit). */
  env: NodeJS.ProcessEnv;
  /** 0 lets the host pick a free port. */
  port: number;
  /** Every line the host prints, stdout and stderr. */
  onLine?: (line: string) => void;
  startTimeoutMs?: number;
}

export interface LocalHostProcess {
  child: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /**
   * Sends `signal` and waits for the exit; SIGKILL after `graceMs`. SIGKILL is a crash of the whole
   * instance: the host's language worker is killed with it, not left to notice its host is gone.
   */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

// Preloaded into the host: stop when our end of its stdin closes, i.e. when the caller dies.
export const WATCHDOG =
  "process.stdin.on('end',()=>process.kill(process.pid,'SIGTERM'));" +
  "process.stdin.on('error',()=>process.kill(process.pid,'SIGTERM'));process.stdin.resume();process.stdin.unref();";

const READY = /Local host ready on (\S+)/;

const here = path.dirname(fileURLToPath(import.meta.url));
/** The compiled entry: beside this file's compiled copy, else (run from source) in the project's dist/. */
export const LOCAL_HOST_ENTRY = existsSync(path.join(here, '..', 'local-host.js'))
  ? path.join(here, '..', 'local-host.js')
  : path.join(here, '..', '..', 'dist', 'scripts', 'local-host.js');

export async function startLocalHostProcess(o: LocalHostProcessOptions): Promise<LocalHostProcess> {
  const child = spawn(
    process.execPath,
    ['--import', `data:text/javascript,${encodeURIComponent(WATCHDOG)}`, LOCAL_HOST_ENTRY],
    {
      cwd: o.root,
      env: { ...o.env, LOCAL_HOST_ROOT: undefined, FUNCTIONS_HTTP_PORT: String(o.port) },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const recent: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the local host did not start in time:\n${recent.join('\n')}`)),
      o.startTimeoutMs ?? 60_000,
    );
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        o.onLine?.(line);
        if (recent.push(line) > 30) recent.shift();
        const ready = READY.exec(line);
        if (ready) {
          clearTimeout(timer);
          resolve(ready[1]!);
        }
      });
    }
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(
        new Error(`the local host exited (${code ?? signal}) before it was ready:\n${recent.join('\n')}`),
      );
    });
  });
  return {
    child,
    url,
    exited,
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (signal === 'SIGKILL') for (const pid of childrenOf(child.pid)) killQuietly(pid);
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A process's children (its worker), from Linux /proc; none elsewhere. */
function childrenOf(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
