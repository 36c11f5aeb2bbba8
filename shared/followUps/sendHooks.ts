import { toActivity } from '../jobs/contract.js';
import type { DeliveryTask } from '../delivery/task.js';
import type { FollowUpStore } from '../stores/followUps.js';
import type { JobContentStore } from '../stores/jobContent.js';
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

export function sendHooks(contents: JobContentStore, followUps: FollowUpStore): SendHooks {
  return {
    async latest(task) {
      const content = await contents.get(task.jobId);
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
