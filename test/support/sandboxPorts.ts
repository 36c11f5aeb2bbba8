import type { SandboxPorts } from '../../scripts/sandbox/settings.js';
import { freePort } from './ports.js';

/** Five free ports for a sandbox stack in a test (Azurite's three, the app, the Playground). */
export async function freeSandboxPorts(): Promise<SandboxPorts> {
  const [blob, queue, table, app, playground] = await Promise.all(Array.from({ length: 5 }, freePort));
  return { blob: blob!, queue: queue!, table: table!, app: app!, playground: playground! };
}
