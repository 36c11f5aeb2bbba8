import type { Activity, TurnContext } from 'botbuilder';
import { isTenantAllowed } from '../../shared/config.js';
import { isTrustedServiceUrl } from '../../shared/delivery/serviceUrl.js';
import type { BotDependencies, ChannelData } from './botTypes.js';
import { answerCardAction, otherCardInvoke } from './cardActions.js';
import { Conversation } from './conversation.js';
import { Membership } from './membership.js';
import { FollowUps, isAcknowledgement } from './followUps.js';
import { READ_RECEIPT_EVENT } from '../../shared/followUps/readReceipts.js';

/**
 * What the bot does with each activity Teams sends: this file routes it; membership.ts keeps the
 * conversation store current (installs, rosters, removals) and welcomes each user once;
 * conversation.ts answers commands and relays @mentions as DMs through the delivery service.
 */

export interface TurnOutcome {
  /** Set when the activity was refused; the HTTP glue answers 403 and nothing was stored. */
  refused?: 'tenant' | 'serviceUrl';
  /** One line for the log saying what the bot did (no message text, names or UPNs). */
  summary?: string;
}

export class TeamsNotifierBot {
  private readonly savedTenants = new Map<string, string>();

  private readonly membership: Membership;
  private readonly conversation: Conversation;
  private readonly followUps: FollowUps | undefined;

  constructor(private readonly d: BotDependencies) {
    this.membership = new Membership(d);
    this.conversation = new Conversation(d);
    this.followUps = d.followUps && new FollowUps(d.followUps);
  }

  async onTurn(context: TurnContext, outcome: TurnOutcome): Promise<void> {
    const activity = context.activity;
    const channelData = (activity.channelData ?? {}) as ChannelData;
    const tenantId = (channelData.tenant?.id ?? activity.conversation?.tenantId)?.toLowerCase();
    if (!isTenantAllowed(this.d.config, tenantId)) {
      outcome.refused = 'tenant';
      return;
    }
    if (
      this.d.config.bot.appId &&
      !isTrustedServiceUrl(activity.serviceUrl, this.d.config.extraServiceUrlHosts)
    ) {
      outcome.refused = 'serviceUrl';
      return;
    }
    if (!tenantId) return; // Not from a Teams tenant: nothing to store or answer.
    const handled = this.handlerFor(activity, channelData);
    if (!handled) return;
    await this.rememberTenant(tenantId, activity);
    const summary = await handled(context, tenantId, channelData);
    if (summary) outcome.summary = summary;
  }

  private handlerFor(activity: Activity, channelData: ChannelData) {
    const botId = activity.recipient?.id;
    const scope = activity.conversation?.conversationType;
    const m = this.membership;
    const c = this.conversation;
    switch (activity.type) {
      case 'installationUpdate':
        if (activity.action?.startsWith('add'))
          return scope === 'personal' ? m.installPersonal : m.installTeam;
        if (activity.action?.startsWith('remove')) {
          return scope === 'personal' ? m.uninstallPersonal : m.uninstallTeam;
        }
        return undefined;
      case 'conversationUpdate': {
        if (channelData.eventType === 'teamDeleted') return m.uninstallTeam;
        if (channelData.eventType === 'teamRenamed') return m.teamRenamed;
        const added = activity.membersAdded ?? [];
        const removed = activity.membersRemoved ?? [];
        if (added.some((m) => m.id === botId))
          return scope === 'personal' ? m.installPersonal : m.installTeam;
        if (removed.some((m) => m.id === botId)) {
          return scope === 'personal' ? m.uninstallPersonal : m.uninstallTeam;
        }
        if (channelData.team?.id && (added.length || removed.length)) return m.teamMembersChanged;
        return undefined;
      }
      case 'message':
        // An Action.Submit button sends its data as `value`, usually without text: not a command.
        if (activity.value !== undefined && !activity.text?.trim()) return c.cardSubmit;
        return scope === 'personal' ? c.personalMessage : c.groupMessage;
      case 'invoke':
        // A card's button: Action.Execute (adaptiveCard/action) or an invoke card action, which
        // Teams sends without a name (botbuilder's TeamsActivityHandler: handleTeamsCardActionInvoke).
        if (!activity.name || activity.name === 'adaptiveCard/action') {
          if (this.followUps && isAcknowledgement(activity.value)) return this.followUps.acknowledge;
          return activity.name ? answerCardAction : c.cardInvoke;
        }
        return otherCardInvoke(activity.name);
      case 'event':
        return activity.name === READ_RECEIPT_EVENT ? this.followUps?.readReceipt : undefined;
      default:
        return undefined;
    }
  }

  private async rememberTenant(tenantId: string, activity: Activity): Promise<void> {
    const botId = activity.recipient?.id;
    const signature = `${activity.serviceUrl}|${botId}`;
    if (!botId || this.savedTenants.get(tenantId) === signature) return;
    await this.d.conversations.saveTenant({ tenantId, serviceUrl: activity.serviceUrl, botId });
    this.savedTenants.set(tenantId, signature);
  }
}
