import { DefaultAzureCredential } from '@azure/identity';
import { TableClient, type TableServiceClientOptions } from '@azure/data-tables';
import { QueueClient, QueueServiceClient, type StoragePipelineOptions } from '@azure/storage-queue';
import type { StorageSettings } from '../config.js';

/** Builds Table and Queue clients from the storage settings (config.ts: `AzureWebJobsStorage`). */

const DEV_ACCOUNT = 'devstoreaccount1';
const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** The SDKs accept `UseDevelopmentStorage=true` for queues but not for tables; expand it for both. */
function expandDevelopmentStorage(connectionString: string, host = '127.0.0.1'): string {
  if (!/^\s*UseDevelopmentStorage\s*=\s*true\s*;?\s*$/i.test(connectionString)) return connectionString;
  return [
    'DefaultEndpointsProtocol=http',
    `AccountName=${DEV_ACCOUNT}`,
    `AccountKey=${DEV_KEY}`,
    `BlobEndpoint=http://${host}:10000/${DEV_ACCOUNT}`,
    `QueueEndpoint=http://${host}:10001/${DEV_ACCOUNT}`,
    `TableEndpoint=http://${host}:10002/${DEV_ACCOUNT}`,
  ].join(';');
}

function credential(settings: StorageSettings) {
  return new DefaultAzureCredential(
    settings.clientId ? { managedIdentityClientId: settings.clientId } : undefined,
  );
}

function isLocal(connectionString: string): boolean {
  return /(127\.0\.0\.1|localhost|devstoreaccount1)/i.test(connectionString);
}

export function tableClient(
  settings: StorageSettings,
  table: string,
  options: TableServiceClientOptions = {},
): TableClient {
  if (settings.connectionString) {
    const cs = expandDevelopmentStorage(settings.connectionString, settings.azuriteHost);
    return TableClient.fromConnectionString(cs, table, { ...options, allowInsecureConnection: isLocal(cs) });
  }
  if (!settings.tableServiceUri) {
    throw new Error('Set AzureWebJobsStorage (connection string) or AzureWebJobsStorage__tableServiceUri');
  }
  return new TableClient(settings.tableServiceUri, table, credential(settings), options);
}

export function queueClient(
  settings: StorageSettings,
  queue: string,
  options: StoragePipelineOptions = {},
): QueueClient {
  if (settings.connectionString) {
    const cs = expandDevelopmentStorage(settings.connectionString, settings.azuriteHost);
    return QueueServiceClient.fromConnectionString(cs, options).getQueueClient(queue);
  }
  if (!settings.queueServiceUri) {
    throw new Error('Set AzureWebJobsStorage (connection string) or AzureWebJobsStorage__queueServiceUri');
  }
  return new QueueServiceClient(settings.queueServiceUri, credential(settings), options).getQueueClient(
    queue,
  );
}
