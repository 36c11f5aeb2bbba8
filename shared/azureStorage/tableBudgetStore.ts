import { getOrUndefined, isConflict, isPreconditionFailed, keyPart, type LazyTable } from './table.js';
import type { BudgetStore } from '../delivery/budget/port.js';
import type { BudgetState } from '../delivery/budget/schedule.js';

/**
 * The tenant budget store on Table Storage (table `RateBudgets`): one row per tenant and budget,
 * `PartitionKey` the tenant, `RowKey` the budget's name (`budget`: the Bot Connector's; Microsoft
 * Graph's have their own, shared/graph/limits.ts), guarded by its ETag. Columns: `next` (the
 * schedule's first free time) and, while an urgent send waits, `urgentUntil` (the yield signal).
 */
export class TableBudgetStore implements BudgetStore {
  constructor(
    private readonly table: LazyTable,
    private readonly rowKey = 'budget',
  ) {}

  async read(tenantId: string) {
    const table = await this.table.client();
    const row = await getOrUndefined<{ next?: number; urgentUntil?: number }>(
      table,
      keyPart(tenantId.toLowerCase()),
      this.rowKey,
    );
    if (!row || typeof row.next !== 'number' || !row.etag) return undefined;
    const urgentUntil = typeof row.urgentUntil === 'number' ? row.urgentUntil : undefined;
    return { state: { next: row.next, ...(urgentUntil ? { urgentUntil } : {}) }, etag: row.etag };
  }

  async write(tenantId: string, state: BudgetState, etag: string | undefined) {
    const table = await this.table.client();
    // Replace: a yield signal that has passed is dropped with the write that finds it so.
    const entity = {
      partitionKey: keyPart(tenantId.toLowerCase()),
      rowKey: this.rowKey,
      next: state.next,
      ...(state.urgentUntil ? { urgentUntil: state.urgentUntil } : {}),
    };
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
