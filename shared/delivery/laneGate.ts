import { DeadlinePassedError } from './deadline.js';
import { newLaneHistory, pickNext, type LaneClaim } from './lanes.js';

interface Entry extends LaneClaim {
  admit: () => void;
}

/**
 * The lanes' order for a tenant paced in this process (`TENANT_BUDGET=local`, rateLimiter.ts): callers
 * pass one at a time, picked by lane and job (lanes.ts pickNext), into the tenant's pacing, which
 * serves its callers one after another anyway, so passing one at a time costs nothing. The shared
 * budget orders its callers itself (budget/sharedBudget.ts).
 */
export class LaneGate {
  private readonly waiting: Entry[] = [];
  private readonly history = newLaneHistory();
  private busy = false;

  /**
   * Runs `turn` when this caller's turn comes; a caller still waiting at `deadline` (epoch ms) leaves
   * with a DeadlinePassedError and takes nothing.
   */
  async pass<T>(claim: LaneClaim, deadline: number, turn: () => Promise<T>): Promise<T> {
    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const entry: Entry = {
        ...claim,
        admit: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      if (Number.isFinite(deadline)) {
        timer = setTimeout(
          () => {
            const at = this.waiting.indexOf(entry);
            if (at < 0) return;
            this.waiting.splice(at, 1);
            reject(new DeadlinePassedError());
          },
          Math.max(0, deadline - Date.now()),
        );
      }
      this.waiting.push(entry);
      this.next();
    });
    try {
      return await turn();
    } finally {
      this.busy = false;
      this.next();
    }
  }

  private next(): void {
    if (this.busy || !this.waiting.length) return;
    this.busy = true;
    const [entry] = this.waiting.splice(pickNext(this.waiting, this.history), 1);
    entry!.admit();
  }
}
