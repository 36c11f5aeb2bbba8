import type { AppConfig } from '../../shared/config.js';
import type { DeliveryService } from '../../shared/delivery/deliver.js';
import type { JobIntake } from '../../shared/jobs/intake.js';
import type { QueueSender } from '../../shared/queues.js';
import type { ConversationStore } from '../../shared/stores/conversations.js';
import type { InstallMarks } from '../../shared/stores/installMarks.js';
import type { FollowUpDependencies } from './followUps.js';

/** What the bot's parts are given, and the Teams channel data they read. */

export interface BotDependencies {
  config: AppConfig;
  conversations: ConversationStore;
  intake: JobIntake;
  delivery: DeliveryService;
  deliveryQueue: QueueSender;
  /** Acknowledgements and read receipts; without it card presses get the generic answer. */
  followUps?: FollowUpDependencies | undefined;
  /** Installs the app made through Microsoft Graph (docs/graph.md): no welcome, no roster call. */
  installMarks?: InstallMarks | undefined;
}

export type ChannelData = {
  tenant?: { id?: string };
  team?: { id?: string; name?: string; aadGroupId?: string };
  eventType?: string;
};
