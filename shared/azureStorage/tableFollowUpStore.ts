import type { DeliveryRecord, FollowUpFields } from '../stores/deliveryRecords.js';
import type { FollowUpStore, SentMessageRef } from '../stores/followUps.js';
import { readRange } from '../followUps/readReceipts.js';
import { clean, deliveryRow, partitionOf, type Row } from './conversationRows.js';
import { chatPrefix, chatRow, followUpColumns, orderKeyPart, readMarkRow } from './followUpRows.js';
import { merged } from '../jobs/outcomeCounts.js';
import { writeDeliveryRow } from './countedWrite.js';
import { getOrUndefined, isConflict, isPreconditionFailed, type LazyTable } from './table.js';

/** Follow-ups on Table Storage: the delivery rows' follow-up columns and the `chat|` index rows. */
export class TableFollowUpStore implements FollowUpStore {
  constructor(private readonly table: LazyTable) {}

  async write(
    tenantId: string,
    record: DeliveryRecord,
    fields: FollowUpFields & { status?: 'recalled' },
  ): Promise<DeliveryRecord | undefined> {
    const table = await this.table.client();
    const { status, ...rest } = fields;
    const now = new Date().toISOString();
    const entity = clean({
      partitionKey: partitionOf(tenantId),
      rowKey: deliveryRow(record.jobId, record.recipient),
      ...followUpColumns(rest),
      ...(status ? { status } : {}),
      updatedAt: now,
    });
    const after = merged(record, { ...rest, ...(status ? { status } : {}) });
    const etag = await writeDeliveryRow(table, { entity, etag: record.etag, record, before: record, after });
    return etag === undefined
      ? undefined
      : { ...record, ...rest, ...(status ? { status } : {}), updatedAt: now, etag };
  }

  async findSent(tenantId: string, conversationId: string, activityId: string) {
    const table = await this.table.client();
    const row = await getOrUndefined<Row>(table, partitionOf(tenantId), chatRow(conversationId, activityId));
    return row ? toRef(row) : undefined;
  }

  async listNewlyRead(tenantId: string, conversationId: string, lastReadMessageId: string) {
    const table = await this.table.client();
    const pk = partitionOf(tenantId);
    const mark = await getOrUndefined<Row>(table, pk, readMarkRow(conversationId));
    const range = readRange(lastReadMessageId, (mark?.lastReadMessageId as string) || undefined);
    if (!range) return [];
    const prefix = chatPrefix(conversationId);
    if (range.upTo.startsWith('s')) {
      const row = await getOrUndefined<Row>(table, pk, prefix + orderKeyPart(range.upTo));
      return row ? [toRef(row)] : [];
    }
    const q = (v: string) => `'${v.replace(/'/g, "''")}'`;
    // Numeric keys (`n…`) sort before `s…`; the range stays inside this chat's numeric rows.
    const lower = range.after ? `RowKey gt ${q(prefix + range.after)}` : `RowKey ge ${q(`${prefix}n`)}`;
    const rows = table.listEntities<Row>({
      queryOptions: {
        filter: `PartitionKey eq ${q(pk)} and ${lower} and RowKey le ${q(prefix + range.upTo)}`,
      },
    });
    const out: SentMessageRef[] = [];
    for await (const row of rows) out.push(toRef(row));
    return out;
  }

  async setReadMark(tenantId: string, conversationId: string, lastReadMessageId: string): Promise<void> {
    const table = await this.table.client();
    const pk = partitionOf(tenantId);
    for (let attempt = 0; attempt < 5; attempt++) {
      const mark = await getOrUndefined<Row>(table, pk, readMarkRow(conversationId));
      const previous = (mark?.lastReadMessageId as string) || undefined;
      if (!readRange(lastReadMessageId, previous) || !/^\d+$/.test(lastReadMessageId)) return;
      const entity = { partitionKey: pk, rowKey: readMarkRow(conversationId), lastReadMessageId };
      try {
        if (mark) await table.updateEntity(entity, 'Replace', { etag: String(mark.etag) });
        else await table.createEntity(entity);
        return;
      } catch (err) {
        if (!isConflict(err) && !isPreconditionFailed(err)) throw err;
      }
    }
  }
}

function toRef(row: Row): SentMessageRef {
  return { jobId: String(row.jobId), recipient: String(row.recipient), activityId: String(row.activityId) };
}
