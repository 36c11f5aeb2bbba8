import { tableClient } from '../../shared/azureStorage/connection.js';
import { LazyTable } from '../../shared/azureStorage/table.js';
import { TableConversationStore } from '../../shared/azureStorage/tableConversationStore.js';
import { freeSandboxPorts } from '../../scripts/sandbox/settings.js';
import { startSandbox } from '../../scripts/sandbox/stack.js';
import { ROOT } from './app.js';
import { FAST_QUEUES } from './pipeline.js';

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
