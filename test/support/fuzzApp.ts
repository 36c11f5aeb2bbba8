import { expect } from 'vitest';
import { TENANT, startApp, type TestApp } from './app.js';
import { FAST_QUEUES } from './pipeline.js';

/** The app as the fuzz tests run it, and what they read of it. */

export function startFuzzApp(): Promise<TestApp> {
  return startApp({
    env: {
      ...FAST_QUEUES,
      ALLOWED_TENANT_IDS: TENANT,
      // Deliveries stay on their queue, so it can be counted: the fan-out is what the job function wrote.
      'AzureWebJobs.notificationDeliveries.Disabled': 'true',
    },
  });
}

/** Reads of the app that `current()` returns (the one a beforeAll started). */
export function fuzzAppReads(current: () => TestApp) {
  async function rows(table: string): Promise<Array<Record<string, unknown>>> {
    const out: Array<Record<string, unknown>> = [];
    try {
      for await (const row of current().table(table).listEntities<Record<string, unknown>>()) out.push(row);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
    return out;
  }

  async function hostIsUp() {
    expect((await fetch(`${current().url}/`)).status).toBe(200);
  }

  return { rows, hostIsUp };
}
