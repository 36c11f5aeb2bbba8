import { afterAll, beforeAll, expect } from 'vitest';
import { TENANT, startApp, type TestApp } from './app.js';
import { FAST_QUEUES } from './pipeline.js';

/**
 * Starts the app as the fuzz tests run it before a file's tests and stops it after them; `started`
 * gets it once it runs. Returns what the tests read of it.
 */
export function useFuzzApp(started: (app: TestApp) => void) {
  let app: TestApp | undefined;
  beforeAll(async () => {
    app = await startApp({
      env: {
        ...FAST_QUEUES,
        ALLOWED_TENANT_IDS: TENANT,
        // Deliveries stay on their queue, so it can be counted: the fan-out is what the job function wrote.
        'AzureWebJobs.notificationDeliveries.Disabled': 'true',
      },
    });
    started(app);
  });
  afterAll(async () => {
    await app?.stop();
  });

  async function rows(table: string): Promise<Array<Record<string, unknown>>> {
    const out: Array<Record<string, unknown>> = [];
    try {
      for await (const row of app!.table(table).listEntities<Record<string, unknown>>()) out.push(row);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
    return out;
  }

  async function hostIsUp() {
    expect((await fetch(`${app!.url}/`)).status).toBe(200);
  }

  return { rows, hostIsUp };
}
