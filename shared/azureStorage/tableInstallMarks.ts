import type { InstallMark, InstallMarks } from '../stores/installMarks.js';
import { clean, installRow, partitionOf, type Row } from './conversationRows.js';
import { getOrUndefined, type LazyTable } from './table.js';

/** Install marks on the Conversations table: rows `install|<aadObjectId>` in the tenant's partition. */
export class TableInstallMarks implements InstallMarks {
  constructor(private readonly table: LazyTable) {}

  async get(tenantId: string, aadObjectId: string): Promise<InstallMark | undefined> {
    const table = await this.table.client();
    const row = await getOrUndefined<Row>(table, partitionOf(tenantId), installRow(aadObjectId));
    if (!row) return undefined;
    const opt = (name: string) => (row[name] as string) || undefined;
    return { aadObjectId, upn: opt('upn'), name: opt('name'), at: String(row.at), chatId: opt('chatId') };
  }

  async put(tenantId: string, mark: InstallMark): Promise<void> {
    const table = await this.table.client();
    const entity = clean({
      partitionKey: partitionOf(tenantId),
      rowKey: installRow(mark.aadObjectId),
      ...mark,
    });
    await table.upsertEntity(entity, 'Merge');
  }
}
