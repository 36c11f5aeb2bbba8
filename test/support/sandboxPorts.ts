import { tableClient } from '../../shared/azureStorage/connection.js';
import { LazyTable } from '../../shared/azureStorage/table.js';
import { TableConversationStore } from '../../shared/azureStorage/tableConversationStore.js';
import type { SandboxPorts } from '../../scripts/sandbox/settings.js';
import { startSandbox } from '../../scripts/sandbox/stack.js';
import { ROOT } from './app.js';
import { FAST_QUEUES } from './pipeline.js';
import { freePort } from './ports.js';

/** Five free ports for a sandbox stack in a test (Azurite's three, the app, the Playground). */
export async function freeSandboxPorts(): Promise<SandboxPorts> {
  const [blob, queue, table, app, playground] = await Promise.all(Array.from({ length: 5 }, freePort));
  return { blob: blob!, queue: queue!, table: table!, app: app!, playground: playground! };
}

/**
 * The stack `npm start` runs (Azurite, the app on the local host, Agents Playground) on free ports,
 * with fast queue polling and any extra app settings, plus a reader of the users the app stored.
 */
export async function startPlaygroundSandbox(settings: Record<string, string> = {}) {
  const sandbox = await startSandbox({
    root: ROOT,
    ports: await freeSandboxPorts(),
    appHost: 'local',
    settings: { ...FAST_QUEUES, ...settings },
  });
  const users = new TableConversationStore(
    new LazyTable(tableClient({ connectionString: sandbox.azurite.connectionString }, 'Conversations')),
  );
  return { sandbox, pg: sandbox.playground, users };
}
