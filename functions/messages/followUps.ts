import { ActivityTypes, type TurnContext } from 'botbuilder';
import { acknowledgedCard, acknowledgedJobId, noticeCard } from '../../shared/jobs/acknowledge.js';
import { lastReadMessageIdOf } from '../../shared/followUps/readReceipts.js';
import { reportFollowUp } from '../../shared/followUps/report.js';
import type {
  DeliveryRecord,
  DeliveryRecordStore,
  FollowUpFields,
} from '../../shared/stores/deliveryRecords.js';
import type { FollowUpStore } from '../../shared/stores/followUps.js';
import { sendsStopped, type JobContentStore } from '../../shared/stores/jobContent.js';
import { plural } from '../../shared/text.js';

/**
 * After the send, from the recipient's side: an acknowledgement press (`adaptiveCard/action` invoke
 * with our verb) and read receipts (`application/vnd.microsoft.readReceipt` events in 1:1 chats).
 * Universal Actions response types: https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/work-with-universal-actions-for-adaptive-cards
 */

export interface FollowUpDependencies {
  contents: JobContentStore;
  followUps: FollowUpStore;
  deliveryRecords: DeliveryRecordStore;
}

const CARD = 'application/vnd.microsoft.card.adaptive';
const MESSAGE = 'application/vnd.microsoft.activity.message';

export const isAcknowledgement = (value: unknown) => acknowledgedJobId(value) !== undefined;

export class FollowUps {
  constructor(private readonly d: FollowUpDependencies) {}

  acknowledge = async (context: TurnContext, tenantId: string) => {
    const a = context.activity;
    const jobId = acknowledgedJobId(a.value)!;
    const answer = (type: string, value: unknown) =>
      context.sendActivity({
        type: ActivityTypes.InvokeResponse,
        value: { status: 200, body: { statusCode: 200, type, value } },
      });
    // The job of this tenant only: the same job ID in another tenant is another job.
    const content = await this.d.contents.get(tenantId, jobId);
    if (!content) {
      await answer(
        CARD,
        noticeCard('This notification is no longer available, so it cannot be acknowledged.'),
      );
      return `acknowledgement for an unknown job`;
    }
    if (sendsStopped(content)) {
      await answer(
        CARD,
        noticeCard('This notification was recalled by its sender; there is nothing to acknowledge.'),
      );
      return `acknowledgement for recalled job ${jobId}`;
    }
    // The pressed message (replyToId) names the delivery; only its recipient may acknowledge it.
    const ref = a.replyToId
      ? await this.d.followUps.findSent(tenantId, a.conversation.id, a.replyToId)
      : undefined;
    const record =
      ref?.jobId === jobId ? await this.d.deliveryRecords.get(tenantId, jobId, ref.recipient) : undefined;
    if (!record) {
      await answer(
        CARD,
        noticeCard('This copy of the notification could not be found, so it cannot be acknowledged.'),
      );
      return `acknowledgement of job ${jobId}: no delivery for the pressed message`;
    }
    if (!record.userId || record.userId !== a.from?.id) {
      await answer(MESSAGE, 'Only the person this notification was sent to can acknowledge it.');
      return `acknowledgement of job ${jobId} refused: not the recipient`;
    }
    let at = record.acknowledgedAt;
    if (!at) {
      at = new Date().toISOString();
      const stood = await this.writeOnce(tenantId, record, 'acknowledgedAt', { acknowledgedAt: at });
      if (stood.first) {
        reportFollowUp(
          'acknowledged',
          { jobId, tenantId, recipient: record.recipient },
          {},
          {
            timeToAcknowledgeMs: Date.parse(at) - Date.parse(record.completedAt ?? at),
          },
        );
      }
      at = stood.value ?? at;
    }
    await answer(CARD, acknowledgedCard(content.message, at));
    return `job ${jobId} acknowledged`;
  };

  readReceipt = async (context: TurnContext, tenantId: string) => {
    const a = context.activity;
    const watermark = lastReadMessageIdOf(a);
    // Teams sends read receipts for 1:1 chats only; anything else is not ours to interpret.
    if (!watermark || a.conversation?.conversationType !== 'personal') return undefined;
    const chat = a.conversation.id;
    const refs = await this.d.followUps.listNewlyRead(tenantId, chat, watermark);
    let marked = 0;
    const now = new Date().toISOString();
    for (const ref of refs) {
      const record = await this.d.deliveryRecords.get(tenantId, ref.jobId, ref.recipient);
      if (!record || record.readAt || record.status !== 'sent') continue;
      const stood = await this.writeOnce(tenantId, record, 'readAt', { readAt: now });
      if (!stood.first) continue;
      marked++;
      reportFollowUp(
        'read',
        { jobId: ref.jobId, tenantId, recipient: ref.recipient },
        {},
        {
          timeToReadMs: Date.parse(now) - Date.parse(record.completedAt ?? now),
        },
      );
    }
    await this.d.followUps.setReadMark(tenantId, chat, watermark);
    return `read receipt: ${marked} of ${plural(refs.length, 'message')} newly read`;
  };

  /** Sets a first-time field, retrying on concurrent writes; says whether this write was the first. */
  private async writeOnce(
    tenantId: string,
    record: DeliveryRecord,
    field: 'readAt' | 'acknowledgedAt',
    fields: FollowUpFields,
  ): Promise<{ first: boolean; value?: string | undefined }> {
    let current: DeliveryRecord | undefined = record;
    for (let round = 0; round < 5 && current; round++) {
      if (current[field]) return { first: false, value: current[field] };
      if (await this.d.followUps.write(tenantId, current, fields))
        return { first: true, value: fields[field] };
      current = await this.d.deliveryRecords.get(tenantId, record.jobId, record.recipient);
    }
    return { first: false };
  }
}
