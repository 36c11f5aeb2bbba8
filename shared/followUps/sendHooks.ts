import { toActivity } from '../jobs/contract.js';
import type { DeliveryTask } from '../delivery/task.js';
import type { FollowUpStore } from '../stores/followUps.js';
import type { JobContent, JobContentStore } from '../stores/jobContent.js';
import { EventNames, telemetry } from '../telemetry/telemetry.js';
import { messageFor } from './content.js';

/** What a send asks of the follow-ups (send.ts calls these when they are configured). */
export interface SendHooks {
  /**
   * Read right before the message goes out, inside its rate-limit slot: the latest revision to send,
   * 'recalled' when nothing may be sent any more, undefined to send the task's own message.
   */
  latest(
    task: DeliveryTask,
  ): Promise<{ activity: Record<string, unknown>; revision: number } | 'recalled' | undefined>;
  /** After Teams accepted the message: index it by chat and activity ID (read receipts, card presses). */
  sent(task: DeliveryTask, conversationId: string, activityId: string): Promise<void>;
}

/**
 * A job's content as read for sends, for a second: a burst of one job's deliveries then costs one read
 * a second inside their rate-limit slots, not one per send, which would add storage latency to every
 * call and bunch calls up (docs/rate-limits.md). An update or recall made in this process forgets it
 * at once (forgetContent); on other instances it is seen within CONTENT_TTL_MS.
 */
const CONTENT_TTL_MS = 1000;
const cache = new Map<string, { at: number; content: Promise<JobContent | undefined> }>();

/** Drops the cached content of a job: called when this process records an update or a recall. */
export function forgetContent(jobId: string): void {
  cache.delete(jobId);
}

function cachedContent(contents: JobContentStore, jobId: string): Promise<JobContent | undefined> {
  const hit = cache.get(jobId);
  if (hit && performance.now() - hit.at < CONTENT_TTL_MS) return hit.content;
  const content = contents.get(jobId);
  cache.set(jobId, { at: performance.now(), content });
  content.catch(() => cache.delete(jobId));
  if (cache.size > 1000) cache.delete(cache.keys().next().value!);
  return content;
}

export function sendHooks(contents: JobContentStore, followUps: FollowUpStore): SendHooks {
  return {
    async latest(task) {
      const content = await cachedContent(contents, task.jobId);
      if (!content) return undefined; // accepted before contents were recorded: as queued
      if (content.recalledAt) return 'recalled';
      return { activity: toActivity(messageFor(content)), revision: content.revision };
    },
    async sent(task, conversationId, activityId) {
      try {
        await followUps.indexSent(task.tenantId, conversationId, {
          jobId: task.jobId,
          recipient: task.recipient,
          activityId,
        });
      } catch (err) {
        // The message is out; only its read receipts and card presses cannot be matched.
        telemetry().event(EventNames.deliveryRetry, {
          jobId: task.jobId,
          reason: 'ChatIndexWriteFailed',
          via: 'none',
          error: (err as Error).name,
        });
      }
    },
  };
}
