import type { TransactionAction } from '@azure/data-tables';
import type { GroupRows } from '../graph/groups.js';
import { groupMemberRow, partitionOf, type Row } from './conversationRows.js';
import { getOrUndefined, type LazyTable } from './table.js';

/**
 * A job's group members, for de-duplicating its later groups (graph/groups.ts): rows
 * `gm|<jobId>|<n>|<oid>` of the Conversations table, written 100 to a transaction.
 */
export class TableGroupRows implements GroupRows {
  constructor(private readonly table: LazyTable) {}

  async add(tenantId: string, jobId: string, index: number, aadObjectIds: string[]): Promise<void> {
    const table = await this.table.client();
    const pk = partitionOf(tenantId);
    for (let i = 0; i < aadObjectIds.length; i += 100) {
      const actions: TransactionAction[] = aadObjectIds
        .slice(i, i + 100)
        .map((oid) => ['upsert', { partitionKey: pk, rowKey: groupMemberRow(jobId, index, oid) }, 'Replace']);
      await table.submitTransaction(actions);
    }
  }

  async has(tenantId: string, jobId: string, index: number, aadObjectId: string): Promise<boolean> {
    const table = await this.table.client();
    return !!(await getOrUndefined<Row>(
      table,
      partitionOf(tenantId),
      groupMemberRow(jobId, index, aadObjectId),
    ));
  }
}
