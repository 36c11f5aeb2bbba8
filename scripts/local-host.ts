/**
 * Local Functions host for the sandbox and tests (after `npm run build`). Like `func start` it serves
 * the app found in the folder it is started in, e.g. `cd dist/deploy && node ../scripts/local-host.js`
 * (what `npm run start:host` does). Users with Azure Functions Core Tools should keep using
 * `func start`. See scripts/local-host/README.md.
 *
 * Option: `--settings <file>` reads that local.settings.json instead of the app folder's own.
 * Environment: LOCAL_HOST_ROOT (app folder, default cwd), FUNCTIONS_HTTP_PORT (7071),
 * FUNCTIONS_HTTP_HOST (127.0.0.1), FUNCTIONS_KEY, FUNCTIONS_MASTER_KEY, FUNCTIONS_MAX_BODY_BYTES,
 * LOCAL_HOST_QUEUE_LEASE_MS (how long a message being handled stays hidden; default 10 minutes),
 * LOCAL_HOST_CONFINE (default on: the app may load modules only from its folder, as in Azure; `0`
 * lets it resolve packages above the folder as Node does, for an app that is not self-contained).
 * SIGUSR2 restarts the app's worker process as at a function timeout (fault injection).
 */
import path from 'node:path';
import {
  isExpectedStartupError,
  LocalHostConfigError,
  PortInUseError,
  startLocalHost,
  type LocalHost,
} from './local-host/index.js';

/** `--settings <file>`: a local.settings.json outside the app folder (npm run start:host passes the project's). */
function settingsOption(args: string[]): { settingsFile?: string } {
  const at = args.indexOf('--settings');
  if (at < 0) return {};
  const file = args[at + 1];
  if (!file) throw new LocalHostConfigError('--settings needs the path of a local.settings.json.');
  return { settingsFile: path.resolve(file) };
}

async function main(): Promise<void> {
  let host: LocalHost;
  try {
    host = await startLocalHost({
      confineModules: process.env.LOCAL_HOST_CONFINE !== '0',
      ...settingsOption(process.argv.slice(2)),
    });
  } catch (err) {
    if (isExpectedStartupError(err)) {
      console.error(err.message);
      // Exit now: code the app ran while loading (timers, clients) must not keep us alive.
      process.exit(err instanceof PortInUseError ? 2 : 1);
    }
    throw err;
  }

  for (const f of host.functions) {
    if (f.trigger === 'http') {
      console.log(`${f.name}: [${(f.methods ?? []).join(',')}] ${f.url ?? ''}`);
    } else {
      console.log(`${f.name}: queue ${f.queueName ?? ''}`);
    }
  }
  console.log(`Local host ready on ${host.url}`);

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      console.error(`Received ${signal} again; exiting without waiting.`);
      process.exit(1);
    }
    console.log(`Received ${signal}; stopping.`);
    host.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error('Stopping failed:', err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Fault injection: restart the language worker as at a function timeout (every invocation on it fails).
  process.on('SIGUSR2', () => host.restartWorker('SIGUSR2'));
}

main().catch((err: unknown) => {
  console.error('Local host failed to start:', err);
  process.exit(1);
});
