import { acknowledgedCard } from '../jobs/acknowledge.js';
import { deliveredMessage, type NotificationMessage } from '../jobs/contract.js';
import type { JobContent } from '../stores/jobContent.js';

/** What one recipient's chat shows of a job's content: acknowledged copies keep their acknowledged card. */
export function messageFor(
  content: Pick<JobContent, 'jobId' | 'message' | 'acknowledgeTitle'>,
  acknowledgedAt?: string,
): NotificationMessage {
  if (content.acknowledgeTitle && acknowledgedAt) {
    const card = acknowledgedCard(content.message, acknowledgedAt);
    return content.message.summary ? { card, summary: content.message.summary } : { card };
  }
  return deliveredMessage({
    id: content.jobId,
    message: content.message,
    acknowledge: content.acknowledgeTitle ? { title: content.acknowledgeTitle } : undefined,
  });
}
