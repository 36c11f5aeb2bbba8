import {
  ActivityTypes,
  type Activity,
  type ChannelAccount,
  type Mention,
  type TurnContext,
} from 'botbuilder';
import type { UserProfile } from '../../shared/stores/conversations.js';
import { EventNames, telemetry } from '../../shared/telemetry/telemetry.js';
import { commandReply, parseCommand } from './commands.js';
import { sendMention, type MentionRequest } from './mentions.js';
import { profileOf } from './profiles.js';
import type { BotDependencies } from './botTypes.js';

/** Messages to the bot: commands in the 1:1 chat, and @mentions in channels and group chats. */
export class Conversation {
  constructor(private readonly d: BotDependencies) {}

  personalMessage = async (context: TurnContext, tenantId: string) => {
    const activity = context.activity;
    const user = await this.refreshSender(context, tenantId, activity.conversation.id);
    const command = parseCommand(activity.text ?? '');
    if (command === 'stop' || command === 'start') {
      const optedOut = command === 'stop';
      await this.d.conversations.updateUser(tenantId, user.userId, (current) =>
        current && current.optedOut !== optedOut
          ? { ...current, optedOut, updatedAt: new Date().toISOString() }
          : undefined,
      );
      telemetry().event(optedOut ? EventNames.optOut : EventNames.optIn, { tenantId });
    }
    await context.sendActivity(commandReply(command));
    return `command ${command}${command === 'stop' ? ' (opted out)' : command === 'start' ? ' (opted in)' : ''}`;
  };

  /** Action.Submit in a chat: the data arrives as a message with `value`; no command reply. */
  cardSubmit = async (context: TurnContext, tenantId: string) => {
    const activity = context.activity;
    const personal = activity.conversation?.conversationType === 'personal';
    await this.refreshSender(context, tenantId, personal ? activity.conversation.id : undefined);
  };

  /**
   * An `invoke` card action (Action.Submit with data.msteams.type "invoke"): an invoke without a
   * name carrying the button's value. Handled like an Action.Submit, and Teams waits for the 200.
   */
  cardInvoke = async (context: TurnContext, tenantId: string) => {
    await this.cardSubmit(context, tenantId);
    await context.sendActivity({ type: ActivityTypes.InvokeResponse, value: { status: 200 } });
    return 'card action invoke: answered 200';
  };

  groupMessage = async (context: TurnContext, tenantId: string) => {
    const activity = context.activity;
    await this.refreshSender(context, tenantId, undefined);
    const request = this.mentionRequest(activity);
    if (!request) return; // Not addressed to the bot.
    return sendMention(context, tenantId, request, this.d);
  };

  /** "@Bot tell @Megan the build is green" → DM Megan. Only messages that @mention the bot count. */
  private mentionRequest(activity: Activity): MentionRequest | undefined {
    const botId = activity.recipient?.id;
    const mentions = (activity.entities ?? []).filter((e) => e.type === 'mention') as unknown as Mention[];
    if (!mentions.some((m) => m.mentioned?.id === botId)) return undefined;
    const targets = mentions
      .map((m) => m.mentioned)
      .filter((m): m is ChannelAccount => !!m?.id && m.id !== botId)
      .filter((m, i, all) => all.findIndex((x) => x.id === m.id) === i);
    let text = activity.text ?? '';
    for (const m of mentions) if (m.text) text = text.split(m.text).join(' ');
    text = text
      .replace(/<at>.*?<\/at>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
      .replace(/^(tell|dm|notify|message)\b[:,]?\s*/i, '')
      .trim();
    return { targets, text, from: activity.from, activityId: activity.id ?? `${Date.now()}` };
  }

  private async refreshSender(
    context: TurnContext,
    tenantId: string,
    personalConversationId: string | undefined,
  ) {
    const from = context.activity.from;
    const known = await this.d.conversations.getUserById(tenantId, from.id);
    // Names and IDs come with every activity; UPN and email need one roster call, only the first time.
    const profile: UserProfile = known?.upn
      ? {
          userId: from.id,
          aadObjectId: from.aadObjectId,
          name: from.name,
          serviceUrl: context.activity.serviceUrl,
        }
      : await profileOf(context, from);
    return this.d.conversations.saveUser(tenantId, profile, {
      conversationId: personalConversationId,
      source: personalConversationId ? 'personal' : undefined,
      reactivate: true,
    });
  }
}
