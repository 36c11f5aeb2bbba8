import { toActivity } from '../jobs/contract.js';
import { laneOfTask, type DeliveryTask } from '../delivery/task.js';
import { sendsStopped, type JobContentStore } from '../stores/jobContent.js';
import { messageFor } from './content.js';
import { ContentCache } from './contentCache.js';

/** What a send asks of the follow-ups (send.ts calls it when they are configured). */
export interface SendHooks {
  /**
   * Read right before the message goes out, inside its rate-limit slot: the latest revision to send,
   * 'recalled' when nothing may be sent any more, undefined to send the task's own message.
   */
  latest(
    task: DeliveryTask,
  ): Promise<{ activity: Record<string, unknown>; revision: number } | 'recalled' | undefined>;
}

/**
 * The send hooks of one instance. Content is read through its own cache (contentCache.ts), so an
 * update or recall is seen here within CONTENT_TTL_MS; requestChange.ts waits that out before the
 * recall takes effect or the update fans out.
 */
export function sendHooks(contents: JobContentStore, cache = new ContentCache(contents)): SendHooks {
  return {
    async latest(task) {
      const content = await cache.get(task.tenantId, task.jobId);
      if (!content) return undefined; // accepted before contents were recorded: as queued
      if (sendsStopped(content)) return 'recalled';
      // An urgent job's revision alerts as its first revision would have (contract.ts toActivity).
      const alert = laneOfTask(task) === 'urgent';
      return { activity: toActivity(messageFor(content), { alert }), revision: content.revision };
    },
  };
}
