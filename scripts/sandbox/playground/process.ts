/**
 * The Playground process: started on the project's own Node with its events recording on, in a
 * temp folder of its own by default, and killed with anything it spawned, even when the parent dies.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { PlaygroundConfigFile } from './mockData.js';

export interface PlaygroundOptions {
  /** The bot's messaging endpoint, e.g. `http://127.0.0.1:3978/api/messages`. */
  botEndpoint: string;
  /**
   * Port to listen on. Default 0: a random free one. If the port is taken the Playground silently
   * picks a random one instead; `port` of the result is the one it really uses.
   */
  port?: number;
  /**
   * Working directory (the Playground looks for `.m365agentsplayground.yml` there and writes
   * `devTools/` under it). Default: a fresh temp directory, removed by stop() unless `keepFiles`.
   */
  cwd?: string;
  /** Replaces the built-in mock data (written to `<cwd>/playground-config.yml`). */
  configFile?: PlaygroundConfigFile;
  /** Fixes the personal chat's conversation ID (`--conversation-id`); default random per run. */
  personalChatId?: string;
  /** Keep the temp working directory (recording, log) after stop(). */
  keepFiles?: boolean;
  /** Extra environment for the Playground process. */
  env?: Record<string, string>;
  startTimeoutMs?: number;
}

/** A started Playground process. */
export interface PlaygroundProcess {
  port: number;
  pid: number;
  cwd: string;
  eventsFile: string;
  logFile: string;
  /** Last lines of the Playground's own log (where it reports errors; it prints nothing else). */
  logTail(lines?: number): Promise<string>;
  /** Resolves when the process exits, for whatever reason. */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Kills the process (SIGKILL; it has nothing to flush) and waits for it. Safe to call twice. */
  stop(): Promise<void>;
}

// Resolved through the package (not node_modules/.bin) so it works from src and from dist/.
const PLAYGROUND_BIN = join(
  dirname(createRequire(import.meta.url).resolve('@microsoft/m365agentsplayground/package.json')),
  'cli.js',
);
const DEFAULT_START_TIMEOUT_MS = 30_000;

// Preloaded into the Playground: die when the IPC channel to us closes, i.e. when the parent
// dies, even by SIGKILL (where no 'exit' handler of ours could run). SIGKILL rather than
// process.exit(): its exit handlers take ~1.5 s.
const WATCHDOG = 'data:text/javascript,process.on("disconnect",()=>process.kill(process.pid,"SIGKILL"));';

// Belt and braces for normal exits without stop(): kill what still runs, drop our temp dirs.
const running = new Map<ChildProcess, string | undefined>();
let exitHookInstalled = false;
function track(child: ChildProcess, tempDir: string | undefined): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const [c, dir] of running) {
        killTree(c);
        if (dir) rmSync(dir, { recursive: true, force: true });
      }
    });
  }
  running.set(child, tempDir);
  child.once('exit', () => running.delete(child));
}

function killTree(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Detached: it leads its own process group, so this also gets anything it spawned.
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

async function tail(file: string, lines: number): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function launchPlayground(opts: PlaygroundOptions): Promise<PlaygroundProcess> {
  if (opts.configFile && opts.configFile.users.length !== 5) {
    throw new Error('A Playground config file needs exactly 5 users');
  }
  const startTimeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const ownCwd = opts.cwd === undefined;
  const cwd = opts.cwd ?? (await mkdtemp(join(tmpdir(), 'playground-')));
  const eventsFile = join(cwd, 'devTools', 'events_recording.log');
  const logFile = join(cwd, 'devTools', 'm365agentsplayground.log');

  const env: Record<string, string | undefined> = {
    ...process.env,
    TEAMSAPPTESTER_BROWSER: 'none',
    M365_AGENTS_PLAYGROUND_RECORDING_FILE: eventsFile,
    M365_AGENTS_PLAYGROUND_LOGFILE: logFile,
    // It installs a global proxy interceptor; never send the bot's traffic through a proxy.
    NO_PROXY: ['localhost', '127.0.0.1', '::1', process.env['NO_PROXY']].filter(Boolean).join(','),
    no_proxy: ['localhost', '127.0.0.1', '::1', process.env['no_proxy']].filter(Boolean).join(','),
    ...opts.env,
  };
  // It appends to the recording; a reused cwd must not show the previous run's events.
  await rm(eventsFile, { force: true });
  if (opts.configFile) {
    const configPath = join(cwd, 'playground-config.yml');
    await writeFile(configPath, JSON.stringify(opts.configFile, null, 2));
    env['M365_AGENTS_PLAYGROUND_CONFIG_PATH'] = configPath;
  }

  const args = [
    '--import',
    WATCHDOG,
    PLAYGROUND_BIN,
    ...['-e', opts.botEndpoint, '-c', 'msteams', '--dt', '--er', '-p', String(opts.port ?? 0)],
    ...(opts.personalChatId ? ['--conversation-id', opts.personalChatId] : []),
  ];
  const child = spawn(process.execPath, args, {
    cwd,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  track(child, ownCwd && !opts.keepFiles ? cwd : undefined);

  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const cleanup = async () => {
    child.ref(); // or a script with nothing else to do would exit before 'exit' arrives
    killTree(child);
    await exited;
    if (ownCwd && !opts.keepFiles) await rm(cwd, { recursive: true, force: true });
  };

  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`Playground did not start within ${startTimeoutMs} ms`)),
        startTimeoutMs,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const m = /^Listening on (\d+)\s*$/m.exec(output);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`Playground exited early (code ${code}, signal ${signal})`));
      });
    });
    // "Listening on" comes first; then it mounts its API, or (bad config file) exits with status 1.
    await waitUntilReady(`http://127.0.0.1:${port}`, child, startTimeoutMs);
  } catch (err) {
    const log = await tail(logFile, 20);
    await cleanup();
    throw new Error(`${(err as Error).message}\n--- output ---\n${output}\n--- log ---\n${log}`, {
      cause: err,
    });
  }

  // Don't let a forgotten stop() keep the parent alive; the exit hook and watchdog still apply.
  child.unref();
  child.channel?.unref();
  (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();

  let stopped: Promise<void> | undefined;
  return {
    port,
    pid: child.pid!,
    cwd,
    eventsFile,
    logFile,
    logTail(lines = 40) {
      return tail(logFile, lines);
    },
    exited: () => exited,
    stop() {
      stopped ??= cleanup();
      return stopped;
    },
  };
}

async function waitUntilReady(api: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`Playground exited (code ${child.exitCode}); a bad config file is the usual cause`);
    }
    try {
      const res = await fetch(`${api}/_debug/ping`);
      if (res.ok && (await res.text()) === 'pong') return;
    } catch {
      // not accepting yet
    }
    if (Date.now() > deadline) throw new Error('Playground API did not come up');
    await sleep(50);
  }
}
