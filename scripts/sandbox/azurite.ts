import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { accepts, onFreePorts } from './ports.js';

/** Azurite (storage emulator from npm) as a child process, for tests and the `npm start` sandbox. */

export interface AzuritePorts {
  blob: number;
  queue: number;
  table: number;
}

/** Azurite's own defaults: what `UseDevelopmentStorage=true` points at. */
export const AZURITE_DEFAULT_PORTS: Readonly<AzuritePorts> = { blob: 10000, queue: 10001, table: 10002 };

export interface AzuriteOptions {
  /** Workspace folder; data then survives restart(). Without it Azurite keeps everything in memory. */
  location?: string;
  /** Fixed ports (the sandbox). Default: free ports chosen at random (tests). */
  ports?: AzuritePorts;
  /** Extra Node arguments for the Azurite process (tests: `--import` a clock that can be moved on). */
  nodeArgs?: string[];
}

export interface Azurite {
  connectionString: string;
  blobPort: number;
  queuePort: number;
  tablePort: number;
  pid: number;
  /** Resolves when the current process exits, for whatever reason (a restart() makes a new one). */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Stops the process and waits for it to exit. Safe to call twice. */
  stop(): Promise<void>;
  /** Stops and starts again on the same ports (data survives only with `location`). */
  restart(): Promise<void>;
}

// The well-known, publicly documented Azurite development account (not a secret).
const ACCOUNT = 'devstoreaccount1';
const ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** A full connection string for Azurite's development account on 127.0.0.1 and these ports. */
export function azuriteConnectionString(ports: AzuritePorts): string {
  const base = 'http://127.0.0.1';
  return (
    `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${ACCOUNT_KEY};` +
    `BlobEndpoint=${base}:${ports.blob}/${ACCOUNT};QueueEndpoint=${base}:${ports.queue}/${ACCOUNT};` +
    `TableEndpoint=${base}:${ports.table}/${ACCOUNT};`
  );
}

// Resolved through the package (not node_modules/.bin) so it works from src and from dist/.
const AZURITE_DIST = join(
  dirname(createRequire(import.meta.url).resolve('azurite/package.json')),
  'dist/src',
);
const AZURITE_BIN = join(AZURITE_DIST, 'azurite.js');
const START_TIMEOUT_MS = 20_000;
// No internet here; telemetry would only try to phone home.
const COMMON_FLAGS = ['--silent', '--skipApiVersionCheck', '--loose', '--disableTelemetry'];
const GRACEFUL_STOP_MS = 5_000;
const SAVING_STOP_MS = 60_000;

// Preloaded into the Azurite process: exit when our end of its stdin pipe closes, i.e. when the
// test process dies, even by SIGKILL (where no 'exit' handler of ours could run). unref() keeps
// the pipe from holding Azurite alive after a normal SIGTERM shutdown.
const WATCHDOG =
  "process.stdin.on('end',()=>process.exit(0));process.stdin.on('error',()=>process.exit(0));" +
  'process.stdin.resume();process.stdin.unref();';

// Belt and braces for normal exits: kill whatever is still running synchronously.
const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackChild(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of running) c.kill('SIGKILL');
    });
  }
  running.add(child);
  child.once('exit', () => running.delete(child));
}

export async function startAzurite(opts: AzuriteOptions = {}): Promise<Azurite> {
  return opts.ports
    ? startAzuriteOn(opts.ports, opts.location, opts.nodeArgs)
    : onFreePorts(3, ([blob, queue, table]) =>
        startAzuriteOn({ blob: blob!, queue: queue!, table: table! }, opts.location, opts.nodeArgs),
      );
}

async function startAzuriteOn(
  ports: AzuritePorts,
  location: string | undefined,
  nodeArgs: string[] = [],
): Promise<Azurite> {
  const args = [
    ...(location ? ['--location', location] : ['--inMemoryPersistence']),
    ...COMMON_FLAGS,
    ...['--blobHost', '127.0.0.1', '--blobPort', String(ports.blob)],
    ...['--queueHost', '127.0.0.1', '--queuePort', String(ports.queue)],
    ...['--tableHost', '127.0.0.1', '--tablePort', String(ports.table)],
  ];
  const azurite = await supervise(
    AZURITE_BIN,
    args,
    [ports.queue, ports.table],
    location,
    'SIGTERM',
    nodeArgs,
  );
  return Object.assign(azurite, {
    connectionString: azuriteConnectionString(ports),
    blobPort: ports.blob,
    queuePort: ports.queue,
    tablePort: ports.table,
  });
}

/**
 * One Azurite service as its own process (Azurite's `azurite-table` / `azurite-queue`), on a free port:
 * for benchmarks, where one process serving both would make every table request wait out the queue
 * store's saves, and the reverse.
 */
export async function startAzuriteService(
  service: 'table' | 'queue',
  opts: { location?: string } = {},
): Promise<AzuriteService> {
  const bin = join(AZURITE_DIST, service, 'main.js');
  return onFreePorts(1, async ([port]) => {
    const args = [
      ...(opts.location ? ['--location', opts.location] : ['--inMemoryPersistence']),
      ...COMMON_FLAGS,
      ...[`--${service}Host`, '127.0.0.1', `--${service}Port`, String(port)],
    ];
    return Object.assign(await supervise(bin, args, [port!], opts.location, 'SIGINT'), { port: port! });
  });
}

type Supervised = Pick<Azurite, 'pid' | 'exited' | 'stop' | 'restart'>;

/** A running Azurite bin that can be stopped (with `signal`, which makes it save) and restarted. */
async function supervise(
  bin: string,
  args: string[],
  ports: number[],
  location: string | undefined,
  signal: NodeJS.Signals,
  nodeArgs: string[] = [],
): Promise<Supervised> {
  let child = await launch(bin, args, ports, location, nodeArgs);
  return {
    get pid() {
      return child.pid ?? -1;
    },
    exited: () => exitOf(child),
    stop: () => terminate(child, signal, location),
    async restart() {
      await terminate(child, signal, location);
      child = await launch(bin, args, ports, location, nodeArgs);
    },
  };
}

export type AzuriteService = Supervised & { port: number };

async function launch(
  bin: string,
  args: string[],
  ports: number[],
  location: string | undefined,
  nodeArgs: string[] = [],
): Promise<ChildProcess> {
  // Run the bin with our own node (its shebang would pick whatever `node` is on PATH).
  // In-memory mode still resolves a workspace folder, so keep it out of the repo.
  const child = spawn(
    process.execPath,
    ['--import', `data:text/javascript,${encodeURIComponent(WATCHDOG)}`, ...nodeArgs, bin, ...args],
    // Own process group: a terminal's Ctrl-C reaches only the sandbox, which stops things in order.
    { cwd: location ?? tmpdir(), stdio: ['pipe', 'ignore', 'pipe'], detached: true },
  );
  trackChild(child);
  // A forgotten stop() must not keep the test process alive; the hooks above still clean up.
  child.unref();
  unrefStream(child.stdin);
  unrefStream(child.stderr);

  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = `code ${code}, signal ${signal}`));
  child.once('error', (err) => (exited = err.message));

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (const port of ports) {
    while (!(await accepts(port))) {
      if (exited !== undefined) throw new Error(`Azurite exited early (${exited}): ${stderr}`);
      if (Date.now() > deadline) {
        await terminate(child, 'SIGTERM');
        throw new Error(`Azurite did not listen on ${port} within ${START_TIMEOUT_MS} ms: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return child;
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

function unrefStream(stream: unknown): void {
  (stream as { unref?: () => void } | null)?.unref?.();
}

/**
 * SIGTERM lets Azurite flush its Loki files (needed for `location`); SIGKILL if it lingers. Its
 * table-only process saves on SIGINT only (SIGTERM ends it before the save), so services get SIGINT.
 * With a workspace it gets long enough to save on a busy machine: a SIGKILL then would lose the last
 * seconds of writes, which Azure Storage never does.
 */
async function terminate(child: ChildProcess, signal: NodeJS.Signals, location?: string): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), location ? SAVING_STOP_MS : GRACEFUL_STOP_MS);
  await exited;
  clearTimeout(timer);
}
