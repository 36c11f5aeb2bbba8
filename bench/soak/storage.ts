/** What the soak reads back from storage: queue depths, poison queues, rejected jobs, delivery records. */
import type { TableClient } from '@azure/data-tables';
import type { QueueClient } from '@azure/storage-queue';
import { tableClient } from '../../shared/azureStorage/connection.js';
import { partitionOf } from '../../shared/azureStorage/conversationRows.js';
import { listByPrefix } from '../../shared/azureStorage/table.js';

export async function queueCount(q: QueueClient): Promise<number | undefined> {
  try {
    if (!(await q.exists())) return 0;
    // Azure (and Azurite) count invisible messages too, so in-flight and delayed ones keep this above 0.
    return (await q.getProperties()).approximateMessagesCount ?? 0;
  } catch {
    return undefined;
  }
}

/** RejectedJobs rows set aside from one source (e.g. the jobs poison queue). */
export async function rejectedFrom(conn: string, source: string): Promise<unknown[]> {
  const table = tableClient({ connectionString: conn }, 'RejectedJobs');
  const out: unknown[] = [];
  try {
    for await (const row of table.listEntities<Record<string, unknown>>()) {
      if (row.partitionKey !== 'byJob' && row.source === source) out.push(row);
    }
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err; // no table: nothing rejected
  }
  return out;
}

/** Reads every message of a poison queue (hidden for 10 minutes, not deleted). */
export async function drainPoison(q: QueueClient): Promise<unknown[]> {
  if (!(await q.exists())) return [];
  const out: unknown[] = [];
  for (;;) {
    const { receivedMessageItems } = await q.receiveMessages({
      numberOfMessages: 32,
      visibilityTimeout: 600,
    });
    if (receivedMessageItems.length === 0) return out;
    for (const m of receivedMessageItems) {
      try {
        out.push(JSON.parse(Buffer.from(m.messageText, 'base64').toString('utf8')));
      } catch {
        out.push(m.messageText);
      }
    }
  }
}

export interface DeliveryRow {
  jobId: string;
  recipient: string;
  status: string;
  reason?: string;
  activityId?: string;
  claimedAt?: string;
  completedAt?: string;
  attempts?: number;
}

export async function readDeliveryRecords(
  table: TableClient,
  tenantIds: string[],
): Promise<Map<string, DeliveryRow>> {
  const rows = new Map<string, DeliveryRow>();
  for (const tenantId of tenantIds) {
    for (const row of await listByPrefix<DeliveryRow>(table, partitionOf(tenantId), 'dlv|'))
      rows.set(`${row.jobId}\n${row.recipient}`, row);
  }
  return rows;
}
