import type { ChannelAccount, TurnContext } from 'botbuilder';
import type { DeliveryService } from '../../shared/delivery/deliver.js';
import { requeueDelivery } from '../../shared/delivery/requeue.js';
import type { DeliveryResult, DeliveryTask } from '../../shared/delivery/task.js';
import type { NotificationJob } from '../../shared/jobs/contract.js';
import type { JobIntake } from '../../shared/jobs/intake.js';
import { recipientKeyString } from '../../shared/jobs/recipient.js';
import type { QueueSender } from '../../shared/queues.js';

/**
 * "@Bot tell @Megan the build is green" in a channel or group chat: DM each mentioned user through
 * the same delivery service the queue uses (same records, limits and opt-outs), then confirm in the thread.
 */

export interface MentionRequest {
  targets: ChannelAccount[];
  text: string;
  from: ChannelAccount;
  activityId: string;
}

interface MentionDependencies {
  intake: JobIntake;
  delivery: DeliveryService;
  /** Where deliveries go when Teams asks us to wait. */
  deliveryQueue: QueueSender;
}

export async function sendMention(
  context: TurnContext,
  tenantId: string,
  request: MentionRequest,
  d: MentionDependencies,
): Promise<string> {
  if (!request.targets.length || !request.text) {
    await context.sendActivity(
      'To send a DM, mention me and the people to tell, then the message: "@Teams Notifier tell @Megan the build is green".',
    );
    return '@mention without recipients or text: replied with how to ask';
  }
  // The job ID follows from the Teams activity, so a retried activity never DMs twice.
  const jobId = `mention-${request.activityId.replace(/[^A-Za-z0-9._:-]/g, '').slice(0, 80) || Date.now()}`;
  const job: NotificationJob = {
    id: jobId,
    tenantId,
    recipients: request.targets.map((t) => ({ kind: 'userId' as const, value: t.id })),
    message: { text: `**${request.from.name ?? 'A colleague'}** asked me to tell you: ${request.text}` },
  };
  const recorded = await d.intake.record(job, { source: 'mention' });
  if (!recorded.ok) {
    await context.sendActivity(`I couldn't send that: ${recorded.errors.join('; ')}`);
    return `@mention job ${jobId}: refused (${recorded.reason})`;
  }
  const lines: string[] = [];
  const outcomes: string[] = [];
  for (const target of request.targets) {
    const task: DeliveryTask = {
      v: 1,
      jobId,
      tenantId,
      recipient: recipientKeyString({ kind: 'userId', value: target.id }),
      message: job.message,
      acceptedAt: recorded.job.acceptedAt,
      reschedules: 0,
    };
    const result = await d.delivery.deliver(task, { claimToken: jobId, dequeueCount: 1, maxDequeueCount: 5 });
    if (result.kind !== 'done') {
      await requeueDelivery(
        d.deliveryQueue,
        task,
        result.kind === 'reschedule' ? result.delayMs : 5_000,
        result.reason,
      );
    }
    lines.push(describe(target.name ?? 'them', result));
    outcomes.push(
      result.kind === 'done' ? `${result.status}${result.reason ? ` (${result.reason})` : ''}` : 'queued',
    );
  }
  await context.sendActivity(lines.join('\n\n'));
  return `@mention job ${jobId}: ${outcomes.length} DM(s): ${outcomes.join(', ')}`;
}

function describe(name: string, result: DeliveryResult): string {
  if (result.kind !== 'done') return `I'll DM ${name} shortly: Teams asked me to wait.`;
  if (result.status === 'sent') return `Sent ${name} a DM.`;
  if (result.status === 'skipped')
    return `I didn't DM ${name}: ${result.reason === 'OptedOut' ? 'they turned notifications off' : result.reason}.`;
  return `I couldn't DM ${name} (${result.reason ?? 'unknown reason'}).`;
}
