import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll } from 'vitest';
import { FUNCTION_KEY, ROOT, TENANT, eventually, startApp, type TestApp } from './app.js';
import { startIngestion, type Ingestion } from './ingestion.js';
import { FAST_QUEUES } from './pipeline.js';
import { createStorageObjects } from '../../scripts/sandbox/storageObjects.js';

/**
 * Issue 10's app, as the production tests run it: the app in its own process (so its Application
 * Insights events reach a local ingestion endpoint) on real Azurite; and what they send and read.
 */

const run = promisify(execFile);
export const KEY = { 'x-functions-key': FUNCTION_KEY };

let n = 0;
export const jobId = (what: string) => `prod-${what}-${Date.now().toString(36)}-${++n}`;
export const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

export interface ProductionApp {
  app: TestApp;
  ingestion: Ingestion;
}

/**
 * Starts the app and its ingestion endpoint before a file's tests and stops both after them; `started`
 * gets them once they run. Returns what the tests send and read through.
 */
export function useProductionApp(started: (running: ProductionApp) => void) {
  let app: TestApp | undefined;
  let ingestion: Ingestion | undefined;
  beforeAll(async () => {
    ingestion = await startIngestion();
    app = await startProductionApp(ingestion);
    // The queues and tables exist before producers write, as the infra makes them.
    await createStorageObjects(app.azurite.connectionString);
    started({ app, ingestion });
  });
  afterAll(async () => {
    await app?.stop();
    await ingestion?.stop();
  });
  return productionReach(() => app!);
}

function startProductionApp(ingestion: Ingestion): Promise<TestApp> {
  return startApp({
    childProcess: true,
    env: {
      ...FAST_QUEUES,
      ALLOWED_TENANT_IDS: TENANT,
      APPLICATIONINSIGHTS_CONNECTION_STRING: ingestion.connectionString,
      NODE_EXTRA_CA_CERTS: ingestion.caFile,
      APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true',
      TELEMETRY_LIVE_METRICS: 'false',
    },
  });
}

/** The jobs queue, the CLI and RejectedJobs of the app that `current()` returns (the one a beforeAll started). */
function productionReach(current: () => TestApp) {
  const jobsQueue = () => new QueueClient(current().azurite.connectionString, 'notification-jobs');
  const cli = (script: string, args: string[]) =>
    run(process.execPath, [path.join(ROOT, 'dist/scripts', script), ...args], {
      cwd: ROOT,
      env: {
        ...process.env,
        AzureWebJobsStorage: current().azurite.connectionString,
        DEFAULT_TENANT_ID: TENANT,
      },
    }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        stdout: e.stdout,
        stderr: e.stderr,
      }),
    );

  async function rejectedRows(): Promise<Array<Record<string, unknown>>> {
    const rows: Array<Record<string, unknown>> = [];
    for await (const row of current().table('RejectedJobs').listEntities<Record<string, unknown>>())
      rows.push(row);
    return rows.filter((r) => r.partitionKey !== 'byJob');
  }
  const rejectedBy = (field: string, value: string) =>
    eventually(
      async () => (await rejectedRows()).find((r) => r[field] === value),
      20_000,
      `RejectedJobs ${value}`,
    );

  return { jobsQueue, cli, rejectedBy };
}
