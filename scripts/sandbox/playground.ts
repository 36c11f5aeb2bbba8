/**
 * Drives Microsoft 365 Agents Playground (`@microsoft/m365agentsplayground`), the local Teams
 * look-alike, for end-to-end tests and the `npm start` sandbox. See docs/agents-playground-notes.md
 * for the observed behaviour this module relies on.
 *
 * The Playground plays both Teams clients (it sends activities to the bot) and the Bot Connector
 * service (it serves `<url>/_connector/v3/...`, the `serviceUrl` of its activities). It keeps its
 * state in memory and has no HTTP API that lists messages, so this module reads its events
 * recording (`--er`), a file it appends every exchange to, synchronously, as it happens.
 *
 * Its parts are in playground/: process.ts (start and stop), driver.ts (its HTTP API),
 * eventsRecording.ts (the recording and its reader), mockData.ts (the mock tenant and config file).
 *
 * Kept free of vitest imports so a plain Node process (the sandbox) can use it.
 */
import { drivePlayground, type PlaygroundDriver } from './playground/driver.js';
import { readRecording, type RecordingReader } from './playground/eventsRecording.js';
import { launchPlayground, type PlaygroundOptions, type PlaygroundProcess } from './playground/process.js';

export * from './playground/driver.js';
export * from './playground/eventsRecording.js';
export * from './playground/mockData.js';
export type { PlaygroundOptions } from './playground/process.js';

export interface Playground extends PlaygroundProcess, PlaygroundDriver, RecordingReader {
  /** The Playground web UI / API base, `http://localhost:<port>` (as the Playground names itself). */
  url: string;
  /** Bot Connector base URL, exactly the `serviceUrl` of its activities: `http://localhost:<port>/_connector`. */
  connectorUrl: string;
}

export async function startPlayground(opts: PlaygroundOptions): Promise<Playground> {
  const playground = await launchPlayground(opts);
  const url = `http://localhost:${playground.port}`;
  return {
    url,
    connectorUrl: `${url}/_connector`,
    ...playground,
    ...drivePlayground(`http://127.0.0.1:${playground.port}`),
    ...readRecording(playground.eventsFile),
  };
}
