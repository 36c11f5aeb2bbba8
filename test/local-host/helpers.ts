import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLocalHost, type LocalHost, type LogRecord } from '../../scripts/local-host/index.js';
import type { Azurite } from '../support/azurite.js';

export const fixtureRoot = fileURLToPath(new URL('./fixture/', import.meta.url));

/** One thing the fixture's functions recorded (see fixture/functions/state.js), in the worker process `pid`. */
export interface FixtureEvent {
  kind: string;
  pid: number;
  at: number;
  [key: string]: unknown;
}

/** A file for the fixture's events (its FIXTURE_EVENTS setting) and a reader of what is in it. */
export function fixtureEvents(): { file: string; read(kind?: string): FixtureEvent[] } {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'local-host-fixture-')), 'events.jsonl');
  return {
    file,
    read(kind) {
      if (!existsSync(file)) return [];
      const events = readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as FixtureEvent);
      return kind === undefined ? events : events.filter((e) => e.kind === kind);
    },
  };
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

/** The fixture app on a local host with storage on `azurite`; its events go to `eventsFile`. */
export function startFixtureHost(o: {
  azurite: Azurite;
  eventsFile: string;
  log: (r: LogRecord) => void;
  env?: Record<string, string>;
}): Promise<LocalHost> {
  return startLocalHost({
    root: fixtureRoot,
    port: 0,
    log: o.log,
    env: { AzureWebJobsStorage: o.azurite.connectionString, FIXTURE_EVENTS: o.eventsFile, ...o.env },
  });
}
