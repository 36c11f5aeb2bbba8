import type { QuotaName, QuotaStates } from './policy.js';

/**
 * Where each producer's quota schedules are kept: one row per quota in the producer's own partition,
 * so both are read together and written together in one transaction, each guarded by its ETag.
 * Adapter: azureStorage/tableQuotaStore.ts.
 */
export interface QuotaStore {
  read(producer: string): Promise<{ states: QuotaStates; etags: Partial<Record<QuotaName, string>> }>;
  /** Writes both if neither changed since `etags` (absent: not there yet); false when someone else wrote first. */
  write(
    producer: string,
    states: Required<QuotaStates>,
    etags: Partial<Record<QuotaName, string>>,
  ): Promise<boolean>;
}
