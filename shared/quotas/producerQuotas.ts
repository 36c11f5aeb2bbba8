import { decideQuota, type QuotaDecision, type QuotaLimits } from './policy.js';
import type { QuotaStore } from './port.js';

/** Takes a job's share of its producer's quotas, shared by every instance through the store. */
export class ProducerQuotas {
  constructor(
    private readonly store: QuotaStore,
    private readonly limits: QuotaLimits,
    private readonly clock: () => number = Date.now,
  ) {}

  async take(producer: string, recipients: number): Promise<QuotaDecision> {
    for (let attempt = 0; ; attempt++) {
      const { states, etags } = await this.store.read(producer);
      const decision = decideQuota(states, this.clock(), recipients, this.limits);
      if (!decision.ok) return decision;
      if (await this.store.write(producer, decision.states, etags)) return decision;
      // Another instance booked meanwhile: read again. Contention is one producer's own burst.
      if (attempt >= 20) throw new Error(`quota of ${producer}: too much contention`);
      await new Promise((r) => setTimeout(r, Math.random() * 10 * (attempt + 1)));
    }
  }
}
