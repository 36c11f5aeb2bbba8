/**
 * The whole sandbox: Azurite (in memory), the function app and Microsoft 365 Agents Playground,
 * each a child process, on the ports given. Used by `npm start` and the end-to-end tests.
 */
import { DEPLOY_DIR, deployDir } from '../deploy/layout.js';
import { startAzurite, type Azurite } from './azurite.js';
import { startFunctionApp, type AppHostKind, type FunctionApp } from './functionApp.js';
import { startPlayground, type Playground } from './playground.js';
import { startSandboxGraph } from './graph.js';
import type { FakeGraph } from './fakeGraph/server.js';
import { portTaken } from './ports.js';
import { createStorageObjects } from './storageObjects.js';
import {
  PORT_SETTINGS,
  readLocalSettingsValues,
  SandboxError,
  sandboxAppSettings,
  storageConnection,
  type SandboxPorts,
} from './settings.js';

export interface SandboxOptions {
  /** The project root: the app runs from its staged dist/deploy, with its local.settings.json Values. */
  root: string;
  ports: SandboxPorts;
  appHost: AppHostKind;
  funcPath?: string;
  /** Extra app settings, over the sandbox's own (e.g. faster queue polling for tests). */
  settings?: Record<string, string>;
  /** Lines the app prints. */
  onAppLine?: (line: string) => void;
  /** Progress messages. */
  onStatus?: (message: string) => void;
  /** What the sandbox's fake Microsoft Graph did (proactive installs). */
  onGraphLine?: (line: string) => void;
}

export interface Sandbox {
  ports: SandboxPorts;
  azurite: Azurite;
  playground: Playground;
  /** The fake Microsoft Graph the app is given (graph.ts). */
  graph: FakeGraph;
  app: FunctionApp;
  /** Resolves with the name of the first process that exits (the others are then still running). */
  firstExit(): Promise<{ name: string; code: number | null; signal: NodeJS.Signals | null }>;
  /** Stops the app first (in-flight invocations finish), then the Playground and Azurite. Safe to call twice. */
  stop(): Promise<void>;
}

/** Fails with one line per taken port, before anything is started. */
export async function checkPorts(ports: SandboxPorts): Promise<void> {
  const problems: string[] = [];
  for (const [key, port] of Object.entries(ports)) {
    // Azurite and the app listen on 127.0.0.1, the Playground on every interface.
    const host = key === 'playground' ? undefined : '127.0.0.1';
    let taken: boolean;
    try {
      taken = await portTaken(port, host);
    } catch (err) {
      problems.push(`Port ${port} cannot be used: ${(err as Error).message}`);
      continue;
    }
    if (taken) {
      const variable = PORT_SETTINGS[key as keyof SandboxPorts].variable;
      problems.push(
        `Port ${port} (${variable}) is already in use — stop what is using it or set ${variable} to a free port.`,
      );
    }
  }
  if (problems.length) throw new SandboxError(problems.join('\n'), 2);
}

export async function startSandbox(o: SandboxOptions): Promise<Sandbox> {
  const { ports } = o;
  const status = o.onStatus ?? (() => undefined);
  await checkPorts(ports);

  let azurite: Azurite | undefined;
  let playground: Playground | undefined;
  let graph: FakeGraph | undefined;
  let app: FunctionApp | undefined;
  const stopAll = async () => {
    await app?.stop();
    await Promise.all([playground?.stop(), azurite?.stop(), graph?.stop()]);
  };

  try {
    status(`Starting Azurite (in memory) on ports ${ports.blob}, ${ports.queue}, ${ports.table}`);
    status(`Starting Microsoft 365 Agents Playground on port ${ports.playground}`);
    const messages = `http://127.0.0.1:${ports.app}/api/messages`;
    [azurite, playground, graph] = await Promise.all([
      startAzurite({ ports: { blob: ports.blob, queue: ports.queue, table: ports.table } }),
      startPlayground({ botEndpoint: messages, port: ports.playground }),
      startSandboxGraph(() => playground, o.onGraphLine ?? (() => undefined)),
    ]);
    await createStorageObjects(storageConnection(ports));
    if (playground.port !== ports.playground) {
      // It silently moves to a random port when its own is taken (between our check and its start).
      throw new SandboxError(
        `Port ${ports.playground} (PLAYGROUND_PORT) was taken while starting — set PLAYGROUND_PORT to a free port.`,
        2,
      );
    }
    status(
      o.appHost === 'func'
        ? `Starting the function app with Azure Functions Core Tools: func start --port ${ports.app} (in ${DEPLOY_DIR})`
        : `Azure Functions Core Tools (func) not found on PATH: starting the function app on the project's local host (dist/scripts/local-host.js) on port ${ports.app}, in ${DEPLOY_DIR}`,
    );
    app = await startFunctionApp({
      appDir: deployDir(o.root),
      localSettings: readLocalSettingsValues(o.root),
      port: ports.app,
      settings: { ...sandboxAppSettings(ports, graph.url), ...o.settings },
      kind: o.appHost,
      ...(o.funcPath ? { funcPath: o.funcPath } : {}),
      ...(o.onAppLine ? { onLine: o.onAppLine } : {}),
    });
  } catch (err) {
    await stopAll();
    throw err;
  }

  const named = (name: string, p: Promise<{ code: number | null; signal: NodeJS.Signals | null }>) =>
    p.then((e) => ({ name, ...e }));
  const first = Promise.race([
    named('Azurite', azurite.exited()),
    named('Agents Playground', playground.exited()),
    named('the function app', app.exited()),
  ]);
  let stopping: Promise<void> | undefined;
  return {
    ports,
    azurite,
    playground,
    graph,
    app,
    firstExit: () => first,
    stop() {
      stopping ??= stopAll();
      return stopping;
    },
  };
}
