/**
 * Measures one cold load of an app entry in a fresh process: `node dist/bench/loadProbe.js <entry>`.
 * Installs the local host's stand-in for `@azure/functions-core` so registrations are counted, imports
 * the entry (or, with `--raw`, just the dependency stack), and prints one JSON line.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { FunctionRegistry, loadIntoRegistry } from '../scripts/local-host/coreApi.js';
import { createLogger } from '../scripts/local-host/logger.js';

const RAW_STACK = [
  '@azure/functions',
  'botbuilder',
  '@azure/data-tables',
  '@azure/storage-queue',
  'applicationinsights',
];

const [target = '', mode] = process.argv.slice(2);
const registry = new FunctionRegistry(createLogger(() => undefined));
const started = performance.now();
await loadIntoRegistry(registry, async () => {
  if (mode === '--raw') for (const name of RAW_STACK) await import(name);
  else await import(pathToFileURL(target).href);
});
const loadMs = performance.now() - started;
console.log(
  JSON.stringify({
    loadMs,
    // Includes Node's own start-up before the first line of this script.
    sinceProcessStartMs: performance.now(),
    functions: registry.functions.length,
  }),
);
// Telemetry exporters keep timers alive; the figure is taken.
process.exit(0);
