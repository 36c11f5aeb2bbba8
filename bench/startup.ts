/**
 * Scenario 4, start-up: how long the app's entry takes to load in a fresh process (bundled and not,
 * telemetry on and off, compile cache off) and the first request answered by a local host.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DEPLOY_DIR, deployDir } from '../scripts/deploy/layout.js';
import { startLocalHostProcess } from '../scripts/local-host/child.js';
import { ROOT, round, TENANT } from './common.js';

interface Probe {
  loadMs: number;
  sinceProcessStartMs: number;
  functions: number;
}

function probe(entry: string, env: NodeJS.ProcessEnv, raw = false): Probe {
  const args = [join(ROOT, 'dist', 'bench', 'loadProbe.js'), join(ROOT, entry), ...(raw ? ['--raw'] : [])];
  const out = spawnSync(process.execPath, ['--no-deprecation', ...args], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
  });
  if (out.status !== 0) throw new Error(`load probe failed for ${entry}: ${out.stderr}`);
  return JSON.parse(out.stdout.trim().split('\n').pop()!) as Probe;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Loads one entry RUNS times in fresh processes (after one warm-up run) and summarises. */
function loadFigures(entry: string, env: NodeJS.ProcessEnv, raw = false) {
  const RUNS = 9;
  probe(entry, env, raw); // warm-up: the OS file cache and Node's compile cache, as on a warm instance
  const runs = Array.from({ length: RUNS }, () => probe(entry, env, raw));
  const loads = runs.map((r) => r.loadMs);
  return {
    runs: RUNS,
    medianMs: round(median(loads)),
    minMs: round(Math.min(...loads)),
    maxMs: round(Math.max(...loads)),
    medianSinceProcessStartMs: round(median(runs.map((r) => r.sinceProcessStartMs))),
    functions: runs[0]!.functions,
  };
}

/** Starts the local host on the bundled build and times its first answered request. */
async function firstRequest(connectionString: string) {
  const started = performance.now();
  const host = await startLocalHostProcess({
    root: deployDir(ROOT),
    port: 0,
    env: { ...process.env, AzureWebJobsStorage: connectionString, FUNCTIONS_KEY: 'bench-key' },
  });
  try {
    const readyMs = performance.now() - started;
    const response = await fetch(`${host.url}/api/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-functions-key': 'bench-key' },
      body: JSON.stringify({
        tenantId: TENANT,
        recipients: [{ userId: '29:bench-first-request' }],
        message: { text: 'First request after start' },
      }),
    });
    const body = (await response.json()) as { jobId?: string };
    return {
      readyMs: round(readyMs),
      firstAnswerMs: round(performance.now() - started),
      status: response.status,
      answeredWithJobId: typeof body.jobId === 'string',
    };
  } finally {
    await host.stop('SIGKILL');
  }
}

export async function startup(connectionString: string) {
  const off: NodeJS.ProcessEnv = { ...process.env };
  delete off.APPLICATIONINSIGHTS_CONNECTION_STRING;
  const on: NodeJS.ProcessEnv = {
    ...off,
    // Nothing is sent during the load; the endpoint only has to parse.
    APPLICATIONINSIGHTS_CONNECTION_STRING:
      'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/',
  };
  const noCache: NodeJS.ProcessEnv = { ...on, NODE_DISABLE_COMPILE_CACHE: '1' };
  const result = {
    rawDependencyStack: loadFigures('', off, true),
    unbundledTelemetryOff: loadFigures('dist/functions/index.js', off),
    unbundledTelemetryOn: loadFigures('dist/functions/index.js', on),
    bundledTelemetryOff: loadFigures(`${DEPLOY_DIR}/main.js`, off),
    bundledTelemetryOn: loadFigures(`${DEPLOY_DIR}/main.js`, on),
    bundledTelemetryOnNoCompileCache: loadFigures(`${DEPLOY_DIR}/main.js`, noCache),
    firstRequest: await firstRequest(connectionString),
  };
  console.log(`startup: ${JSON.stringify(result)}`);
  return result;
}
