import { getOrUndefined, isConflict, isPreconditionFailed, keyPart, type LazyTable } from './table.js';
import type { BudgetStore } from '../delivery/budget/port.js';
import type { BudgetState } from '../delivery/budget/schedule.js';

/**
 * The tenant budget store on Table Storage (table `RateBudgets`): one row per tenant and budget,
 * `PartitionKey` the tenant, `RowKey` the budget's name (`budget`: the Bot Connector's; Microsoft
 * Graph's have their own, shared/graph/limits.ts), guarded by its ETag.
 */
export class TableBudgetStore implements BudgetStore {
  constructor(
    private readonly table: LazyTable,
    private readonly rowKey = 'budget',
  ) {}

  async read(tenantId: string) {
    const table = await this.table.client();
    const row = await getOrUndefined<{ next?: number }>(table, keyPart(tenantId.toLowerCase()), this.rowKey);
    if (!row || typeof row.next !== 'number' || !row.etag) return undefined;
    return { state: { next: row.next }, etag: row.etag };
  }

  async write(tenantId: string, state: BudgetState, etag: string | undefined) {
    const table = await this.table.client();
    const entity = { partitionKey: keyPart(tenantId.toLowerCase()), rowKey: this.rowKey, next: state.next };
    try {
      const result = etag
        ? await table.updateEntity(entity, 'Replace', { etag })
        : await table.createEntity(entity);
      return result.etag;
    } catch (err) {
      if (isConflict(err) || isPreconditionFailed(err)) return undefined;
      throw err;
    }
  }
}
