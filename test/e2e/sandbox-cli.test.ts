/**
 * `npm start` as a user runs it (`node dist/scripts/sandbox.js`): ports from the environment, a
 * clear message for a taken port, everything stopping together, and the Core Tools branch.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { azuriteConnectionString } from '../../scripts/sandbox/azurite.js';
import { APP_DIR, ROOT, eventually } from '../support/app.js';
import { accepts } from '../support/ports.js';
import { freeSandboxPorts, PORT_SETTINGS, type SandboxPorts } from '../../scripts/sandbox/settings.js';
import { alive } from '../support/processes.js';

interface Run {
  child: ChildProcess;
  output: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const runs: Run[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) {
    if (r.child.exitCode === null && r.child.signalCode === null) {
      r.child.kill('SIGTERM');
      await r.exit;
    }
  }
});

/** Free ports for a sandbox, as the environment variables `npm start` reads them. */
async function portEnv() {
  const free = await freeSandboxPorts();
  const env = Object.fromEntries(
    Object.entries(PORT_SETTINGS).map(([name, s]) => [s.variable, String(free[name as keyof SandboxPorts])]),
  );
  return { ports: [free.blob, free.queue, free.table, free.app, free.playground], env };
}

function runSandbox(env: Record<string, string>): Run {
  const child = spawn(process.execPath, [join(ROOT, 'dist/scripts/sandbox.js')], {
    cwd: ROOT,
    env: { ...process.env, SANDBOX_WRITE_LOCAL_SETTINGS: '0', SANDBOX_APP_HOST: 'local', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const run = { child, output: () => out, exit };
  runs.push(run);
  return run;
}

/** Waits for the banner; a sandbox that exits first, or takes too long, fails with what it printed. */
const ready = (run: Run) =>
  Promise.race([
    eventually(
      () => run.output().includes('Press Ctrl+C to stop everything.'),
      50_000,
      'the sandbox banner',
    ).catch((err: Error) => Promise.reject(new Error(`${err.message}; it printed:\n${run.output()}`))),
    run.exit.then(({ code, signal }) =>
      Promise.reject(new Error(`the sandbox exited (${code ?? signal}) before its banner:\n${run.output()}`)),
    ),
  ]);

/** The sandbox's exit; one that takes over 30 s fails with what it printed. */
const exited = (run: Run) =>
  Promise.race([
    run.exit,
    new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`the sandbox did not exit in 30 s; it printed:\n${run.output()}`)),
        30_000,
      ).unref(),
    ),
  ]);

/** Direct children of `pid` with their command lines (Linux /proc). */
async function childrenOf(pid: number): Promise<Array<{ pid: number; cmd: string }>> {
  const found: Array<{ pid: number; cmd: string }> = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      const cmd = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replaceAll('\0', ' ');
      found.push({ pid: Number(entry), cmd });
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

// Longer than the waits above, so a stuck sandbox fails with its output rather than a bare timeout.
describe('npm start (the sandbox)', { timeout: 120_000 }, () => {
  it('says which port is taken and how to move it, without a stack trace, and starts nothing', async () => {
    const { env, ports } = await portEnv();
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(ports[3], '127.0.0.1', resolve));
    try {
      const run = runSandbox(env);
      const { code } = await exited(run);
      expect(code).toBe(2);
      expect(run.output()).toContain(
        `Port ${ports[3]} (APP_PORT) is already in use — stop what is using it or set APP_PORT to a free port.`,
      );
      expect(run.output()).not.toMatch(/^\s+at /m);
      expect(await accepts(ports[1]!)).toBe(false); // Azurite was not started
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('rejects a port setting that is not a port', async () => {
    const run = runSandbox({ APP_PORT: 'seventy' });
    expect((await exited(run)).code).toBe(2);
    expect(run.output().trim()).toBe('APP_PORT must be a port number from 1 to 65535, got "seventy"');
  });

  it('prints where everything is, and Ctrl+C stops all three processes', async () => {
    const { env, ports } = await portEnv();
    const run = runSandbox(env);
    await ready(run);
    const out = run.output();
    expect(out).toContain("not found on PATH: starting the function app on the project's local host");
    expect(out).toContain(`Agents Playground   http://localhost:${ports[4]}`);
    expect(out).toContain(`Messages endpoint   http://127.0.0.1:${ports[3]}/api/messages`);
    expect(out).toContain('Queue               notification-jobs on Azurite');
    // The sandbox makes the queues and tables as the infra does in Azure: healthy before any job.
    const health = await fetch(`http://127.0.0.1:${ports[3]}/api/health`);
    expect({ status: health.status, body: await health.text() }).toMatchObject({ status: 200 });
    // Non-default Azurite ports: the CLI needs the full connection string to find this Azurite.
    expect(out).toContain(
      `AzureWebJobsStorage='${azuriteConnectionString({ blob: ports[0]!, queue: ports[1]!, table: ports[2]! })}' npm run notify --`,
    );
    const children = await childrenOf(run.child.pid!);
    expect(children).toHaveLength(3);
    for (const port of ports) expect(await accepts(port)).toBe(true);
    // Like `func start`, the local host runs the app in the folder it starts in: the one azd uploads.
    const host = children.find((c) => c.cmd.includes('local-host.js'));
    expect(await readlink(`/proc/${host!.pid}/cwd`)).toBe(APP_DIR);

    run.child.kill('SIGINT');
    expect((await exited(run)).code).toBe(0);
    for (const c of children) expect(alive(c.pid), c.cmd).toBe(false);
    for (const port of ports) expect(await accepts(port)).toBe(false);
  });

  it('stops everything when one of the processes dies', async () => {
    const { env, ports } = await portEnv();
    const run = runSandbox(env);
    await ready(run);
    const children = await childrenOf(run.child.pid!);
    const playground = children.find((c) => c.cmd.includes('m365agentsplayground'));
    expect(playground).toBeDefined();

    process.kill(playground!.pid, 'SIGKILL');
    expect((await exited(run)).code).toBe(1);
    expect(run.output()).toContain('Agents Playground exited unexpectedly');
    for (const c of children) expect(alive(c.pid), c.cmd).toBe(false);
    for (const port of ports) expect(await accepts(port)).toBe(false);
  });

  it('runs `func start --port <APP_PORT>` with the sandbox settings when Core Tools is on PATH', async () => {
    const { env, ports } = await portEnv();
    const bin = await mkdtemp(join(tmpdir(), 'fake-func-'));
    const record = join(bin, 'record.json');
    // A stand-in for Core Tools: records how it was run and reports a running host.
    const fake = [
      `#!${process.execPath}`,
      "const { writeFileSync } = require('node:fs');",
      "const port = Number(process.argv[process.argv.indexOf('--port') + 1]);",
      `writeFileSync(${JSON.stringify(record)}, JSON.stringify({ argv: process.argv.slice(2), env: process.env, cwd: process.cwd() }));`,
      "require('node:http').createServer((req, res) => {",
      "  res.setHeader('content-type', 'application/json');",
      "  res.end(req.url === '/admin/host/status' ? '{\"state\":\"Running\"}' : '{}');",
      "}).listen(port, '127.0.0.1');",
      "process.on('SIGTERM', () => process.exit(0));",
    ].join('\n');
    await writeFile(join(bin, 'func'), fake);
    await chmod(join(bin, 'func'), 0o755);
    try {
      const run = runSandbox({
        ...env,
        SANDBOX_APP_HOST: 'auto',
        PATH: `${bin}${delimiter}${process.env['PATH']}`,
      });
      await ready(run);
      expect(run.output()).toContain(
        `Starting the function app with Azure Functions Core Tools: func start --port ${ports[3]}`,
      );
      expect(run.output()).toContain('function app on Azure Functions Core Tools');
      const seen = JSON.parse(await readFile(record, 'utf8')) as {
        argv: string[];
        env: Record<string, string>;
        cwd: string;
      };
      expect(seen.argv).toEqual(['start', '--port', String(ports[3])]);
      expect(seen.cwd).toBe(APP_DIR);
      expect(seen.env).toMatchObject({
        FUNCTIONS_WORKER_RUNTIME: 'node',
        AzureWebJobsStorage: azuriteConnectionString({ blob: ports[0]!, queue: ports[1]!, table: ports[2]! }),
        MicrosoftAppId: '',
        ALLOW_UNAUTHENTICATED_ACTIVITIES: 'true',
        BOT_SERVICE_URL: `http://localhost:${ports[4]}/_connector`,
        BOT_EXTRA_SERVICE_HOSTS: `localhost:${ports[4]}`,
      });
      run.child.kill('SIGINT');
      expect((await exited(run)).code).toBe(0);
      expect(await accepts(ports[3]!)).toBe(false);
    } finally {
      await rm(bin, { recursive: true, force: true });
    }
  });
});
