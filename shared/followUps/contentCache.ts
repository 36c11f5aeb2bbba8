import type { JobContent, JobContentStore } from '../stores/jobContent.js';

/**
 * How long a send may act on a job's content after reading it. Sends read it through this cache
 * (one read a second for a burst of one job's sends, not one inside every rate-limit slot: that
 * latency would bunch calls up and draw 429s, docs/rate-limits.md).
 */
export const CONTENT_TTL_MS = 1000;
/** Between a send's check of the content and Teams receiving the message: token, request, loopback. */
const SEND_START_MARGIN_MS = 1000;
/**
 * How long an update or a recall waits after writing the content, before it takes effect (a recall)
 * or fans out (an update): by then no instance sends with the content as it was before the write.
 */
export const SETTLE_MS = CONTENT_TTL_MS + SEND_START_MARGIN_MS;

const MAX_READS = 3;

/**
 * One instance's cache of job contents for sends. An entry is aged from the moment its read started,
 * and is checked again once the read has answered, so a slow read is never used past the TTL: a
 * write that completed more than CONTENT_TTL_MS ago is always seen.
 */
export class ContentCache {
  private readonly entries = new Map<string, { at: number; content: Promise<JobContent | undefined> }>();

  constructor(
    private readonly contents: JobContentStore,
    private readonly ttlMs = CONTENT_TTL_MS,
    private readonly now = () => performance.now(),
  ) {}

  async get(tenantId: string, jobId: string): Promise<JobContent | undefined> {
    for (let read = 0; read < MAX_READS; read++) {
      const entry = this.entry(tenantId, jobId);
      const content = await entry.content;
      if (this.now() - entry.at < this.ttlMs) return content;
    }
    // Storage answers slower than the TTL: better to retry the delivery later than to act on stale content.
    throw new Error(`job content reads took over ${this.ttlMs} ms ${MAX_READS} times`);
  }

  private entry(tenantId: string, jobId: string) {
    const key = `${tenantId.toLowerCase()}|${jobId}`;
    const hit = this.entries.get(key);
    if (hit && this.now() - hit.at < this.ttlMs) return hit;
    const entry = { at: this.now(), content: this.contents.get(tenantId, jobId) };
    this.entries.set(key, entry);
    entry.content.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key); // a failed read is not kept
    });
    if (this.entries.size > 1000) this.entries.delete(this.entries.keys().next().value!);
    return entry;
  }
}
