import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type Azurite } from '../support/azurite.js';
import { freePort } from '../support/ports.js';
import { fixtureRoot, waitFor } from './helpers.js';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const compiledEntry = `${projectRoot}dist/scripts/local-host.js`;

/**
 * The compiled entry (`npm test` builds first). Without a build, bundle the TypeScript entry and the
 * worker with esbuild into node_modules/.cache so packages still resolve from the project's node_modules.
 */
async function entryScript(): Promise<string> {
  if (existsSync(compiledEntry)) return compiledEntry;
  const outdir = `${projectRoot}node_modules/.cache/local-host-test`;
  await build({
    // The entry and, beside it (where the host looks for it), the app's worker process.
    entryPoints: {
      'local-host': `${projectRoot}scripts/local-host.ts`,
      worker: `${projectRoot}scripts/local-host/worker.ts`,
    },
    outdir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'silent',
  });
  return `${outdir}/local-host.js`;
}

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

/** The entry with LOCAL_HOST_ROOT naming the fixture; or, with `cwd`, started in that folder with `args`. */
function run(script: string, env: Record<string, string>, cwd?: string, args: string[] = []): Run {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: cwd ?? projectRoot,
    env: {
      PATH: process.env.PATH ?? '',
      ...(cwd ? {} : { LOCAL_HOST_ROOT: fixtureRoot }),
      // The fixture app takes @azure/functions from the project's node_modules, above its folder.
      LOCAL_HOST_CONFINE: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exit };
}

describe('local host entry (node dist/scripts/local-host.js)', () => {
  let script: string;
  let azurite: Azurite;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    [script, azurite] = await Promise.all([entryScript(), startAzurite()]);
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await azurite?.stop();
  });

  it('prints the functions and the ready line, serves requests, and stops on SIGTERM', async () => {
    const port = await freePort();
    const r = run(script, {
      FUNCTIONS_HTTP_PORT: String(port),
      AzureWebJobsStorage: azurite.connectionString,
      JOBS_QUEUE: 'entry-jobs',
    });
    children.push(r.child);
    await waitFor(
      () => r.stdout().includes('Local host ready on'),
      `ready line; stderr: ${r.stderr()}`,
      15_000,
    );

    const lines = r.stdout().split('\n');
    expect(lines).toContain(`getItem: [GET] http://127.0.0.1:${port}/api/items/{id}`);
    expect(lines).toContain(`echo: [POST] http://127.0.0.1:${port}/api/echo`);
    expect(lines).toContain('jobs: queue entry-jobs');
    expect(lines).toContain(`Local host ready on http://127.0.0.1:${port}`);
    // No FUNCTIONS_KEY: warned about, and function-level routes accept requests without a key.
    expect(r.stderr()).toContain('FUNCTIONS_KEY is not set');

    const res = await fetch(`http://127.0.0.1:${port}/api/items/5`);
    expect(await res.json()).toEqual({ id: '5', q: null });

    r.child.kill('SIGTERM');
    expect(await r.exit).toBe(0);
  });

  it('serves the app in the folder it starts in, with a local.settings.json from elsewhere', async () => {
    const port = await freePort();
    const settings = path.join(await mkdtemp(path.join(tmpdir(), 'local-settings-')), 'local.settings.json');
    await writeFile(
      settings,
      JSON.stringify({
        IsEncrypted: false,
        Values: { AzureWebJobsStorage: azurite.connectionString, JOBS_QUEUE: 'settings-jobs' },
      }),
    );
    const r = run(script, { FUNCTIONS_HTTP_PORT: String(port) }, fixtureRoot, ['--settings', settings]);
    children.push(r.child);
    await waitFor(
      () => r.stdout().includes('Local host ready on'),
      `ready line; stderr: ${r.stderr()}`,
      15_000,
    );
    expect(r.stdout().split('\n')).toContain('jobs: queue settings-jobs');
    r.child.kill('SIGTERM');
    expect(await r.exit).toBe(0);
    await rm(path.dirname(settings), { recursive: true, force: true });
  });

  it('exits with code 2 and a one-line message when the port is taken', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = run(script, {
        FUNCTIONS_HTTP_PORT: String(port),
        AzureWebJobsStorage: azurite.connectionString,
        JOBS_QUEUE: 'entry-jobs',
      });
      children.push(r.child);
      expect(await r.exit).toBe(2);
      expect(r.stderr().trim()).toBe(
        `Port ${port} is already in use; set FUNCTIONS_HTTP_PORT to another port.`,
      );
      expect(r.stdout()).not.toContain('Local host ready');
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });
});
