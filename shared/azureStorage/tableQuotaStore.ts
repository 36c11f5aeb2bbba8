import type { TransactionAction } from '@azure/data-tables';
import type { QuotaStore } from '../quotas/port.js';
import type { QuotaName, QuotaStates } from '../quotas/policy.js';
import { isConflict, isPreconditionFailed, keyPart, type LazyTable } from './table.js';

/**
 * Producers' quota schedules in the `RateBudgets` table beside the tenant budgets: PartitionKey
 * `producer|<id>` (a tenant's partition has no `|`), one row per quota holding the schedule's `next`.
 */
const QUOTAS: readonly QuotaName[] = ['jobs', 'recipients'];
const partitionOf = (producer: string) => `producer|${keyPart(producer.toLowerCase())}`;

export class TableQuotaStore implements QuotaStore {
  constructor(private readonly table: LazyTable) {}

  async read(producer: string) {
    const table = await this.table.client();
    const states: QuotaStates = {};
    const etags: Partial<Record<QuotaName, string>> = {};
    const rows = table.listEntities<{ next?: number }>({
      queryOptions: { filter: `PartitionKey eq '${partitionOf(producer).replace(/'/g, "''")}'` },
    });
    for await (const row of rows) {
      const quota = row.rowKey as QuotaName;
      if (!QUOTAS.includes(quota) || typeof row.next !== 'number' || !row.etag) continue;
      states[quota] = { next: row.next };
      etags[quota] = row.etag;
    }
    return { states, etags };
  }

  async write(producer: string, states: Required<QuotaStates>, etags: Partial<Record<QuotaName, string>>) {
    const table = await this.table.client();
    const partitionKey = partitionOf(producer);
    const actions: TransactionAction[] = QUOTAS.map((quota) => {
      const entity = { partitionKey, rowKey: quota, next: states[quota].next };
      const etag = etags[quota];
      return etag ? ['update', entity, 'Replace', { etag }] : ['create', entity];
    });
    try {
      await table.submitTransaction(actions);
      return true;
    } catch (err) {
      if (isConflict(err) || isPreconditionFailed(err)) return false;
      throw err;
    }
  }
}
