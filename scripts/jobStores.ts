import { TABLES } from '../shared/container.js';
import { tableClient } from '../shared/azureStorage/connection.js';
import { LazyTable } from '../shared/azureStorage/table.js';
import { TableCallbackStore } from '../shared/azureStorage/tableCallbackStore.js';
import { TableDeliveryRecordStore } from '../shared/azureStorage/tableDeliveryRecordStore.js';
import { TableJobContentStore } from '../shared/azureStorage/tableJobContentStore.js';
import { TableJobCounters } from '../shared/azureStorage/tableJobCounters.js';
import { TableJobStore, TableRejectedJobStore } from '../shared/azureStorage/tableJobStore.js';
import { readStorageSettings } from '../shared/config.js';

/** The stores a job's status is read from (`npm run status`, and `update`/`recall` while they wait), read-only. */
export function statusStores() {
  const storage = readStorageSettings();
  const jobsTable = new LazyTable(tableClient(storage, TABLES.jobs));
  const conversationsTable = new LazyTable(tableClient(storage, TABLES.conversations));
  return {
    jobs: new TableJobStore(jobsTable),
    counters: new TableJobCounters(conversationsTable),
    deliveryRecords: new TableDeliveryRecordStore(conversationsTable),
    rejected: new TableRejectedJobStore(new LazyTable(tableClient(storage, TABLES.rejected))),
    contents: new TableJobContentStore(jobsTable),
    callbacks: new TableCallbackStore(jobsTable),
  };
}
