import type { TableClient } from '@azure/data-tables';
import type { QueueClient } from '@azure/storage-queue';
import { describe, expect, it } from 'vitest';
import { StorageQueueSender } from '../shared/azureStorage/queueSender.js';
import { LazyTable } from '../shared/azureStorage/table.js';

/**
 * Producers get only Storage Queue Data Message Sender and operators only Storage Table Data Reader
 * (infra/main.bicep): creating the queue or table answers 403 for them, which must not stop a send
 * or a read of what the infra already created. Other failures still surface.
 */
const forbidden = Object.assign(new Error('This request is not authorized to perform this operation'), {
  statusCode: 403,
});
const unavailable = Object.assign(new Error('Service unavailable'), { statusCode: 503 });

describe('an identity that may not create queues or tables', () => {
  it('still sends to the queue the infra created', async () => {
    const sent: string[] = [];
    const client = {
      createIfNotExists: () => Promise.reject(forbidden),
      sendMessage: (text: string) => (sent.push(text), Promise.resolve({})),
    } as unknown as QueueClient;
    await new StorageQueueSender(client).send({ id: 'job-1' });
    expect(sent).toHaveLength(1);
  });

  it('still reads the table the infra created', async () => {
    const raw = { createTable: () => Promise.reject(forbidden), tableName: 'Jobs' } as unknown as TableClient;
    await expect(new LazyTable(raw).client()).resolves.toBe(raw);
  });

  it('other failures of create still fail the call, and are retried next time', async () => {
    let calls = 0;
    const raw = {
      createTable: () => (++calls === 1 ? Promise.reject(unavailable) : Promise.resolve()),
    } as unknown as TableClient;
    const table = new LazyTable(raw);
    await expect(table.client()).rejects.toThrow('Service unavailable');
    await expect(table.client()).resolves.toBe(raw);
    expect(calls).toBe(2);
  });
});
