import { DefaultAzureCredential } from '@azure/identity';
import { TableClient, type TableServiceClientOptions } from '@azure/data-tables';
import { QueueClient, QueueServiceClient, type StoragePipelineOptions } from '@azure/storage-queue';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';

/**
 * Builds Table and Queue clients from the Functions connection setting `AzureWebJobsStorage`:
 * either a connection string (`UseDevelopmentStorage=true` included) or, identity-based,
 * `AzureWebJobsStorage__tableServiceUri` / `__queueServiceUri` (+ optional `__clientId`).
 */

const DEV_ACCOUNT = 'devstoreaccount1';
const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** Counts every storage request; the benchmark uses it to report transactions per DM. */
export interface RequestCounter {
  table: number;
  queue: number;
}
let counter: RequestCounter | undefined;

export function countStorageRequests(target: RequestCounter | undefined): void {
  counter = target;
}

function countingPolicy(kind: keyof RequestCounter): PipelinePolicy {
  return {
    name: `count-${kind}-requests`,
    sendRequest(request, next) {
      if (counter) counter[kind] += 1;
      return next(request);
    },
  };
}

export interface StorageSettings {
  connectionString?: string;
  tableServiceUri?: string;
  queueServiceUri?: string;
  clientId?: string;
}

export function storageSettings(env: Record<string, string | undefined> = process.env): StorageSettings {
  const prefix = 'AzureWebJobsStorage';
  return {
    connectionString: env[prefix]?.trim() || undefined,
    tableServiceUri: env[`${prefix}__tableServiceUri`],
    queueServiceUri: env[`${prefix}__queueServiceUri`],
    clientId: env[`${prefix}__clientId`],
  };
}

/** The SDKs accept `UseDevelopmentStorage=true` for queues but not for tables; expand it for both. */
function expandDevelopmentStorage(connectionString: string): string {
  if (!/^\s*UseDevelopmentStorage\s*=\s*true\s*;?\s*$/i.test(connectionString)) return connectionString;
  const host = process.env.AZURITE_HOST ?? '127.0.0.1';
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

export function tableClient(settings: StorageSettings, table: string): TableClient {
  const options: TableServiceClientOptions = {
    additionalPolicies: [{ policy: countingPolicy('table'), position: 'perCall' }],
  };
  if (settings.connectionString) {
    const cs = expandDevelopmentStorage(settings.connectionString);
    return TableClient.fromConnectionString(cs, table, { ...options, allowInsecureConnection: isLocal(cs) });
  }
  if (!settings.tableServiceUri) {
    throw new Error('Set AzureWebJobsStorage (connection string) or AzureWebJobsStorage__tableServiceUri');
  }
  return new TableClient(settings.tableServiceUri, table, credential(settings), options);
}

export function queueClient(settings: StorageSettings, queue: string): QueueClient {
  const options: StoragePipelineOptions = {};
  if (settings.connectionString) {
    const cs = expandDevelopmentStorage(settings.connectionString);
    const service = QueueServiceClient.fromConnectionString(cs, options);
    addCounting(service);
    return service.getQueueClient(queue);
  }
  if (!settings.queueServiceUri) {
    throw new Error('Set AzureWebJobsStorage (connection string) or AzureWebJobsStorage__queueServiceUri');
  }
  const service = new QueueServiceClient(settings.queueServiceUri, credential(settings), options);
  addCounting(service);
  return service.getQueueClient(queue);
}

/** storage-queue keeps its pipeline private; this reaches the documented factory list to count calls. */
function addCounting(service: QueueServiceClient): void {
  const pipeline = (
    service as unknown as {
      storageClientContext?: { pipeline?: { addPolicy?: (p: PipelinePolicy) => void } };
    }
  ).storageClientContext?.pipeline;
  pipeline?.addPolicy?.(countingPolicy('queue'));
}
