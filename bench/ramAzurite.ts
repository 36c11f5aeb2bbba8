import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { azuriteConnectionString, startAzuriteService } from '../scripts/sandbox/azurite.js';
import { cpuSecondsOf } from './cpu.js';

/**
 * Storage for a benchmark as Azure has it: Table and Queue Storage as separate services, here two
 * Azurite processes (each a single-threaded event loop; in one process each waits out the other's work).
 * Queues are on disk in `location`: the in-memory mode keeps every queue message as its own extent, and
 * its garbage collector (every 60 s) then blocks for seconds (about 16 s after 5,000 messages on this
 * machine), stalling every host at once. Tables are in memory unless they must survive a restart: on
 * disk, Azurite saves its whole table database every 5 s and blocks every request meanwhile, for longer
 * as the tables grow.
 */
export async function startSplitAzurite(o: { location: string; tablesOnDisk: boolean }) {
  const folder = (name: string) => {
    mkdirSync(join(o.location, name), { recursive: true });
    return { location: join(o.location, name) };
  };
  const [table, queue] = await Promise.all([
    startAzuriteService('table', o.tablesOnDisk ? folder('table') : {}),
    startAzuriteService('queue', folder('queue')),
  ]);
  return {
    connectionString: azuriteConnectionString({ blob: queue.port, queue: queue.port, table: table.port }),
    /** CPU seconds both processes have used so far. */
    cpuSeconds: () => (cpuSecondsOf(table.pid) ?? 0) + (cpuSecondsOf(queue.pid) ?? 0),
    /** Both stop and start again (data survives on disk only). */
    restart: async () => {
      await Promise.all([table.restart(), queue.restart()]);
    },
    stop: async () => {
      await Promise.all([table.stop(), queue.stop()]);
    },
  };
}

/** A new folder in RAM where the machine has a RAM-backed one, else in the temp folder. */
export const ramBackedDir = (prefix: string) =>
  mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), prefix));

/** A split Azurite (tables in memory) with its queues in a RAM-backed folder, removed on stop. */
export async function startRamDiskAzurite(prefix: string) {
  const location = ramBackedDir(`${prefix}-azurite-`);
  const azurite = await startSplitAzurite({ location, tablesOnDisk: false });
  return {
    ...azurite,
    stop: async () => {
      await azurite.stop();
      rmSync(location, { recursive: true, force: true });
    },
  };
}
