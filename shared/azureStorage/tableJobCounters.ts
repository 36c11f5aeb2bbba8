import type { Counts } from '../jobs/outcomeCounts.js';
import type { JobCounterStore } from '../stores/jobs.js';
import { partitionOf } from './conversationRows.js';
import { counterTotals } from './countedWrite.js';
import type { LazyTable } from './table.js';

/**
 * Outcome and follow-up totals of audience jobs: the counter rows `count|<jobId>|<shard>` that
 * delivery record writes keep in the tenant's Conversations partition (countedWrite.ts).
 */
export class TableJobCounters implements JobCounterStore {
  constructor(private readonly table: LazyTable) {}

  async totals(tenantId: string, jobId: string): Promise<Counts> {
    return counterTotals(await this.table.client(), partitionOf(tenantId), jobId);
  }
}
