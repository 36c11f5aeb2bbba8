import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { startAzurite } from '../scripts/sandbox/azurite.js';

/**
 * An Azurite of its own, on disk in a RAM-backed folder (removed on stop). Not the in-memory mode: that
 * keeps every queue message as its own extent, and its garbage collector (every 60 s) then blocks Azurite
 * for seconds (about 16 s after 5,000 messages on this machine), stalling every host at once.
 */
export async function startRamDiskAzurite(prefix: string) {
  const base = existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const location = mkdtempSync(join(base, `${prefix}-azurite-`));
  const azurite = await startAzurite({ location });
  return {
    azurite,
    location,
    stop: async () => {
      await azurite.stop();
      rmSync(location, { recursive: true, force: true });
    },
  };
}
