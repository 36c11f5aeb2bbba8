/**
 * `npm start`: the local sandbox. Starts Azurite (in memory), the function app (`func start` when
 * Azure Functions Core Tools is on PATH, else the project's local host) and Microsoft 365 Agents
 * Playground pointed at the app, prints where everything is, and stops all of them together on
 * Ctrl+C or as soon as one of them exits. Ports: see PORT_SETTINGS (docs/settings.md).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppExitedError, findFunc, type AppHostKind } from './sandbox/functionApp.js';
import {
  ensureLocalSettings,
  messagesEndpoint,
  notifyCommand,
  playgroundUrl,
  readPorts,
  SANDBOX_QUEUE,
  SandboxError,
  usesDefaultAzuritePorts,
} from './sandbox/settings.js';
import { startSandbox, type Sandbox } from './sandbox/stack.js';
import { NEVER_MET } from './sandbox/graph.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function chooseHost(): { kind: AppHostKind; funcPath?: string } {
  const wanted = process.env['SANDBOX_APP_HOST']?.trim().toLowerCase() || 'auto';
  if (!['auto', 'func', 'local'].includes(wanted)) {
    throw new SandboxError(`SANDBOX_APP_HOST must be auto, func or local, got "${wanted}"`, 2);
  }
  if (wanted === 'local') return { kind: 'local' };
  const funcPath = findFunc();
  if (funcPath) return { kind: 'func', funcPath };
  if (wanted === 'func') {
    throw new SandboxError('SANDBOX_APP_HOST=func but Azure Functions Core Tools (func) is not on PATH', 2);
  }
  return { kind: 'local' };
}

function banner(sandbox: Sandbox): string {
  const { ports } = sandbox;
  const storage = usesDefaultAzuritePorts(ports)
    ? 'UseDevelopmentStorage=true'
    : `blob ${ports.blob}, queue ${ports.queue}, table ${ports.table}`;
  const host = sandbox.app.kind === 'func' ? 'Azure Functions Core Tools' : "the project's local host";
  const notify = notifyCommand(ports, 'alexw@example.com', 'Hello from the sandbox', ROOT);
  return [
    '',
    `Teams Notifier sandbox is running (function app on ${host}).`,
    '',
    `  Agents Playground   ${playgroundUrl(ports)}`,
    `  Messages endpoint   ${messagesEndpoint(ports)}`,
    `  Queue               ${SANDBOX_QUEUE} on Azurite (${storage}, in memory)`,
    `  Microsoft Graph     ${sandbox.graph.url} (a fake: the Playground's people as the directory)`,
    '',
    'Open the Playground: loading it installs the bot for its user, Alex Wilber, and Personal Chat',
    'shows the welcome. Then, in another terminal, DM Alex from the command line:',
    '',
    `  ${notify}`,
    '',
    `${NEVER_MET.name} never opened the Playground: the bot finds her in Microsoft Graph, installs itself`,
    'for her and DMs her (the Log Panel shows the installation and the DM):',
    '',
    `  ${notifyCommand(ports, NEVER_MET.userPrincipleName, 'Welcome to the team', ROOT)}`,
    '',
    'Press Ctrl+C to stop everything.',
    '',
  ].join('\n');
}

async function main(): Promise<number> {
  let sandbox: Sandbox | undefined;
  let stopping = false;
  let firstSignalAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (firstSignalAt !== undefined) {
      // npm forwards Ctrl+C and the terminal sends it too: only a later, second Ctrl+C means "now".
      if (Date.now() - firstSignalAt < 1_000) return;
      console.error(`Received ${signal} again; exiting without waiting.`);
      process.exit(1);
    }
    firstSignalAt = Date.now();
    stopping = true;
    console.log(`\nReceived ${signal}; stopping the sandbox…`);
    void (sandbox ? sandbox.stop() : Promise.resolve()).then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const ports = readPorts();
  const host = chooseHost();
  if (process.env['SANDBOX_WRITE_LOCAL_SETTINGS'] !== '0' && ensureLocalSettings(ROOT)) {
    console.log('Created local.settings.json from local.settings.sample.json.');
  }
  try {
    sandbox = await startSandbox({
      root: ROOT,
      ports,
      appHost: host.kind,
      ...(host.funcPath ? { funcPath: host.funcPath } : {}),
      onStatus: (m) => console.log(m),
      onAppLine: (line) => console.log(`[app] ${line}`),
      onGraphLine: (line) => console.log(`[graph] ${line}`),
    });
  } catch (err) {
    if (stopping) return 0;
    if (err instanceof AppExitedError) {
      // The app already printed why (port in use, bad setting) on its [app] lines.
      console.error(`${err.message}; everything is stopped.`);
      return 1;
    }
    throw err;
  }
  if (stopping) return 0;
  console.log(banner(sandbox));

  const exit = await sandbox.firstExit();
  if (stopping) return new Promise<number>(() => undefined); // the signal handler exits
  console.error(
    `${exit.name} exited unexpectedly (code ${exit.code}, signal ${exit.signal}); stopping the sandbox.`,
  );
  await sandbox.stop();
  return 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof SandboxError) {
      console.error(err.message);
      process.exit(err.exitCode);
    }
    console.error('The sandbox failed:', err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
