/**
 * Runs the function app as a child process: under Azure Functions Core Tools (`func start`) when
 * `func` is on PATH, else on the project's local host (dist/scripts/local-host.js), which serves
 * the same function definitions. Either starts in the staged folder (dist/deploy), the one azd uploads.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
// Stops the local host gracefully when the sandbox dies, even by SIGKILL (it cannot stop its children then).
import { LOCAL_HOST_ENTRY, WATCHDOG } from '../local-host/child.js';

export type AppHostKind = 'func' | 'local';

export interface FunctionAppOptions {
  /** The app folder the host starts in (the staged dist/deploy). */
  appDir: string;
  port: number;
  /** App settings; they win over the environment and `localSettings`. */
  settings: Record<string, string>;
  /**
   * The project's local.settings.json Values: the environment wins over them, as over the file under
   * `func start`. Handed over as environment variables: the staged folder has no local.settings.json.
   */
  localSettings?: Record<string, string>;
  kind: AppHostKind;
  /** Path of `func` when kind is 'func'. */
  funcPath?: string;
  /** Each line the app prints. */
  onLine?: (line: string) => void;
  startTimeoutMs?: number;
}

export interface FunctionApp {
  kind: AppHostKind;
  url: string;
  pid: number;
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (graceful: in-flight invocations finish), SIGKILL after `graceMs`. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

/** The first executable `func` on PATH (`func.cmd`/`func.exe` on Windows), if any. */
export function findFunc(env: Record<string, string | undefined> = process.env): string | undefined {
  const names = process.platform === 'win32' ? ['func.cmd', 'func.exe', 'func'] : ['func'];
  for (const dir of (env['PATH'] ?? '').split(delimiter).filter(Boolean)) {
    for (const name of names) {
      const candidate = join(dir, name);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

export async function startFunctionApp(o: FunctionAppOptions): Promise<FunctionApp> {
  const env = { ...o.localSettings, ...process.env, ...o.settings };
  let child: ChildProcess;
  if (o.kind === 'func') {
    // `--port` is Core Tools' option for the HTTP port (default 7071).
    child = spawn(o.funcPath ?? 'func', ['start', '--port', String(o.port)], {
      cwd: o.appDir,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } else {
    child = spawn(
      process.execPath,
      ['--import', `data:text/javascript,${encodeURIComponent(WATCHDOG)}`, LOCAL_HOST_ENTRY],
      {
        // Like `func start`, the local host runs the app found in the folder it starts in.
        cwd: o.appDir,
        env: { ...env, LOCAL_HOST_ROOT: undefined, FUNCTIONS_HTTP_PORT: String(o.port) },
        // Own process group: a terminal's Ctrl-C reaches only the sandbox, which stops the app first.
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
  }

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  const recent: string[] = [];
  let announced = false;
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      recent.push(line);
      if (line.startsWith('Local host ready on ')) announced = true;
      if (recent.length > 30) recent.shift();
      o.onLine?.(line);
    });
  }

  const url = `http://127.0.0.1:${o.port}`;
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void exited.then((e) => (exitInfo = e));
  const deadline = Date.now() + (o.startTimeoutMs ?? (o.kind === 'func' ? 180_000 : 60_000));
  while (!(o.kind === 'local' ? announced : await ready(url))) {
    if (spawnError) throw new Error(`Could not run the function app: ${spawnError.message}`);
    if (exitInfo) {
      throw new AppExitedError(
        `The function app exited while starting (code ${exitInfo.code}, signal ${exitInfo.signal})`,
        exitInfo.code,
        recent,
      );
    }
    if (Date.now() > deadline) {
      await stop(child, exited, 2_000);
      throw new Error(`The function app did not answer on ${url} in time`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  let stopping: Promise<void> | undefined;
  return {
    kind: o.kind,
    url,
    pid: child.pid ?? -1,
    exited: () => exited,
    stop(graceMs = 10_000) {
      stopping ??= stop(child, exited, graceMs);
      return stopping;
    },
  };
}

export class AppExitedError extends Error {
  override name = 'AppExitedError';
  constructor(
    message: string,
    readonly code: number | null,
    readonly output: string[],
  ) {
    super(message);
  }
}

/** Core Tools' host reports its state on the admin API (no key needed locally). */
async function ready(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/admin/host/status`, { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) return false;
    return ((await res.json()) as { state?: string }).state === 'Running';
  } catch {
    return false;
  }
}

async function stop(child: ChildProcess, exited: Promise<unknown>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  signalGroup(child, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  // func runs the Node worker as its own child: make sure nothing of the group is left.
  signalGroup(child, 'SIGKILL');
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}
