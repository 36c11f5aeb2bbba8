/** Proves test/support/azurite.ts starts a real Azurite the tests can use, in memory or on disk. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueServiceClient } from '@azure/storage-queue';
import { TableClient } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import { accepts } from '../support/ports.js';
import { startAzurite } from '../support/azurite.js';

describe('startAzurite', () => {
  async function writeAndRead(connectionString: string) {
    const queue = QueueServiceClient.fromConnectionString(connectionString).getQueueClient('selftest');
    const table = TableClient.fromConnectionString(connectionString, 'selftest', {
      allowInsecureConnection: true,
    });
    return {
      queue,
      table,
      async write() {
        await queue.create();
        await queue.sendMessage('hello');
        await table.createTable();
        await table.createEntity({ partitionKey: 'p', rowKey: 'r', value: 42 });
      },
      async peek() {
        return (await queue.peekMessages()).peekedMessageItems[0]?.messageText;
      },
    };
  }

  it.concurrent('in memory: queue and table work, restart empties them, stop frees the ports', async () => {
    const azurite = await startAzurite();
    try {
      expect(azurite.connectionString).toContain(
        `QueueEndpoint=http://127.0.0.1:${azurite.queuePort}/devstoreaccount1`,
      );
      const store = await writeAndRead(azurite.connectionString);
      await store.write();
      expect(await store.peek()).toBe('hello');
      expect((await store.table.getEntity('p', 'r')).value).toBe(42);

      await azurite.restart();
      expect(await store.queue.exists()).toBe(false);
    } finally {
      await azurite.stop();
    }
    expect(await accepts(azurite.queuePort)).toBe(false);
    expect(await accepts(azurite.tablePort)).toBe(false);
    await azurite.stop(); // idempotent
  });

  it.concurrent('with a location: data survives restart on the same ports', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'azurite-selftest-'));
    const azurite = await startAzurite({ location: dir });
    try {
      const store = await writeAndRead(azurite.connectionString);
      await store.write();
      await azurite.restart();
      expect(await store.peek()).toBe('hello');
      expect((await store.table.getEntity('p', 'r')).value).toBe(42);
    } finally {
      await azurite.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
