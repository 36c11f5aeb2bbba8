import { fileURLToPath } from 'node:url';
import type { LogRecord } from '../../scripts/local-host/index.js';

export const fixtureRoot = fileURLToPath(new URL('./fixture/', import.meta.url));

/** What the fixture's functions record (see fixture/functions/state.js). */
export interface FixtureState {
  events: string[];
  jobs: { message: unknown; triggerMetadata: Record<string, unknown> }[];
  attempts: { at: number; dequeueCount: number; message: unknown }[];
  slow: { current: number; max: number; done: number };
}

export function fixtureState(): FixtureState {
  const state = (globalThis as { __localHostFixture?: FixtureState }).__localHostFixture;
  if (!state) throw new Error('The fixture has not been loaded.');
  return state;
}

export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function logCollector(): { records: LogRecord[]; log: (r: LogRecord) => void } {
  const records: LogRecord[] = [];
  return { records, log: (r) => records.push(r) };
}
