import diagnosticsChannel from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';

/**
 * Counts the Table and Queue requests this process sends to storage, for the benchmark's cost per DM.
 * It listens on Node's `http.client.request.start` diagnostics channel (the storage SDKs use node:http),
 * so nothing in the app is hooked: requests are told apart by the endpoints' host:port.
 */

export interface RequestCounter {
  table: number;
  queue: number;
}

let counter: RequestCounter | undefined;
let endpoints = new Map<string, keyof RequestCounter>();

function onRequest(message: unknown): void {
  if (!counter) return;
  const host = String((message as { request: ClientRequest }).request.getHeader('host') ?? '');
  const kind = endpoints.get(host);
  if (kind) counter[kind] += 1;
}

/**
 * Counts requests to the table and queue endpoints of `connectionString` (by default the app's
 * AzureWebJobsStorage) into `target`; undefined stops counting.
 */
export function countStorageRequests(
  target: RequestCounter | undefined,
  connectionString = process.env.AzureWebJobsStorage ?? '',
): void {
  const hosts = new Map<string, keyof RequestCounter>();
  for (const part of connectionString.split(';')) {
    const [key, value] = part.split('=', 2).map((s) => s.trim());
    if (!value) continue;
    if (key === 'TableEndpoint') hosts.set(new URL(value).host, 'table');
    if (key === 'QueueEndpoint') hosts.set(new URL(value).host, 'queue');
  }
  endpoints = hosts;
  if (target && !counter) diagnosticsChannel.subscribe('http.client.request.start', onRequest);
  if (!target && counter) diagnosticsChannel.unsubscribe('http.client.request.start', onRequest);
  counter = target;
}
