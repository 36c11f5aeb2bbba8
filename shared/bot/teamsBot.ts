import pMap from 'p-map';
import { ActivityTypes, TeamsInfo, type TurnContext } from 'botbuilder';
import type { Activity, ChannelAccount, Mention, TeamsChannelAccount } from 'botbuilder';
import { isTenantAllowed, type AppConfig } from '../config.js';
import type { DeliveryService } from '../delivery/deliver.js';
import { isTrustedServiceUrl } from '../delivery/serviceUrl.js';
import type { ConversationStore, UserProfile } from '../store/conversationStore.js';
import type { JobStore } from '../store/jobStore.js';
import type { QueueSender } from '../queue/queues.js';
import { EventNames, telemetry } from '../telemetry/telemetry.js';
import { commandReply, parseCommand, welcomeText } from './commands.js';
import { sendMention, type MentionRequest } from './mentions.js';

/**
 * What the bot does with each activity Teams sends. It keeps the conversation store current
 * (installs, rosters, removals), welcomes each user once, answers commands, and relays
 * @mentions as DMs through the delivery service.
 */

export interface TurnOutcome {
  /** Set when the activity was refused; the HTTP glue answers 403 and nothing was stored. */
  refused?: 'tenant' | 'serviceUrl';
  /** One line for the log saying what the bot did (no message text, names or UPNs). */
  summary?: string;
}

export interface BotDependencies {
  config: AppConfig;
  conversations: ConversationStore;
  jobs: JobStore;
  delivery: DeliveryService;
  deliveries: QueueSender;
}

const ROSTER_WRITE_CONCURRENCY = 8;
/** Universal Actions response types (Microsoft's "Universal Actions for Adaptive Cards" docs). */
const ACTIVITY_MESSAGE = 'application/vnd.microsoft.activity.message';

type ChannelData = {
  tenant?: { id?: string };
  team?: { id?: string; name?: string; aadGroupId?: string };
  eventType?: string;
};

export class TeamsNotifierBot {
  private readonly savedTenants = new Map<string, string>();

  constructor(private readonly d: BotDependencies) {}

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
    switch (activity.type) {
      case 'installationUpdate':
        if (activity.action?.startsWith('add'))
          return scope === 'personal' ? this.installPersonal : this.installTeam;
        if (activity.action?.startsWith('remove')) {
          return scope === 'personal' ? this.uninstallPersonal : this.uninstallTeam;
        }
        return undefined;
      case 'conversationUpdate': {
        if (channelData.eventType === 'teamDeleted') return this.uninstallTeam;
        if (channelData.eventType === 'teamRenamed') return this.teamRenamed;
        const added = activity.membersAdded ?? [];
        const removed = activity.membersRemoved ?? [];
        if (added.some((m) => m.id === botId))
          return scope === 'personal' ? this.installPersonal : this.installTeam;
        if (removed.some((m) => m.id === botId)) {
          return scope === 'personal' ? this.uninstallPersonal : this.uninstallTeam;
        }
        if (channelData.team?.id && (added.length || removed.length)) return this.teamMembersChanged;
        return undefined;
      }
      case 'message':
        // An Action.Submit button sends its data as `value`, usually without text: not a command.
        if (activity.value !== undefined && !activity.text?.trim()) return this.cardSubmit;
        return scope === 'personal' ? this.personalMessage : this.groupMessage;
      case 'invoke':
        return activity.name === 'adaptiveCard/action' ? this.cardAction : undefined;
      default:
        return undefined;
    }
  }

  private installPersonal = async (context: TurnContext, tenantId: string) => {
    const activity = context.activity;
    const profile = await this.profileOf(context, activity.from);
    await this.d.conversations.saveUser(tenantId, profile, {
      source: 'personal',
      conversationId: activity.conversation.id,
      reactivate: true,
    });
    telemetry().event(EventNames.botInstalled, { tenantId, scope: 'personal' });
    await this.welcomeOnce(context, tenantId, profile);
    return 'installed (personal)';
  };

  private uninstallPersonal = async (context: TurnContext, tenantId: string) => {
    await this.dropSource(tenantId, context.activity.from.id, 'personal', 'Uninstalled');
    telemetry().event(EventNames.botUninstalled, { tenantId, scope: 'personal' });
    return 'uninstalled (personal)';
  };

  private installTeam = async (context: TurnContext, tenantId: string, channelData: ChannelData) => {
    const teamId = channelData.team?.id;
    if (!teamId) return; // A group chat: nothing to store for DMs.
    const existing = await this.d.conversations.getTeam(tenantId, teamId);
    // Teams sends both installationUpdate and conversationUpdate for one install; read the roster once.
    if (
      existing?.installed &&
      existing.rosterSyncedAt &&
      Date.now() - Date.parse(existing.rosterSyncedAt) < 60_000
    ) {
      return;
    }
    await this.d.conversations.saveTeam({
      tenantId,
      teamId,
      name: channelData.team?.name,
      serviceUrl: context.activity.serviceUrl,
      installed: true,
      memberCount: existing?.memberCount ?? 0,
    });
    const count = await this.syncRoster(context, tenantId, teamId);
    await this.d.conversations.saveTeam({
      tenantId,
      teamId,
      serviceUrl: context.activity.serviceUrl,
      installed: true,
      memberCount: count,
      rosterSyncedAt: new Date().toISOString(),
    });
    telemetry().event(EventNames.botInstalled, { tenantId, scope: 'team' }, { members: count });
    return `installed in a team (${count} members)`;
  };

  private uninstallTeam = async (context: TurnContext, tenantId: string, channelData: ChannelData) => {
    const teamId = channelData.team?.id;
    if (!teamId) return;
    const members = await this.d.conversations.listTeamMembers(tenantId, teamId);
    await this.forEachLimited(members, (userId) =>
      this.dropSource(tenantId, userId, `team:${teamId}`, 'BotRemovedFromTeam'),
    );
    await this.d.conversations.removeTeamMembers(tenantId, teamId, members);
    await this.d.conversations.saveTeam({
      tenantId,
      teamId,
      serviceUrl: context.activity.serviceUrl,
      installed: false,
      memberCount: 0,
    });
    telemetry().event(EventNames.botUninstalled, { tenantId, scope: 'team' });
    return `removed from a team (${members.length} members)`;
  };

  private teamMembersChanged = async (context: TurnContext, tenantId: string, channelData: ChannelData) => {
    const teamId = channelData.team?.id as string;
    const team = await this.d.conversations.getTeam(tenantId, teamId);
    if (team && !team.installed) return;
    const added = context.activity.membersAdded ?? [];
    const removed = context.activity.membersRemoved ?? [];
    const source = `team:${teamId}`;
    const people = added.filter((m) => !isBotId(m.id));
    const stored: string[] = [];
    await this.forEachLimited(people, async (member) => {
      const profile = await this.profileOf(context, member);
      if (profile.anonymous) return;
      await this.d.conversations.saveUser(tenantId, profile, { source, reactivate: true });
      stored.push(member.id);
    });
    await this.d.conversations.addTeamMembers(tenantId, teamId, stored);
    await this.forEachLimited(removed, (member) =>
      this.dropSource(tenantId, member.id, source, 'RemovedFromTeam'),
    );
    await this.d.conversations.removeTeamMembers(
      tenantId,
      teamId,
      removed.map((m) => m.id),
    );
  };

  private teamRenamed = async (_context: TurnContext, tenantId: string, channelData: ChannelData) => {
    const teamId = channelData.team?.id;
    const name = channelData.team?.name;
    if (!teamId || !name) return;
    const existing = await this.d.conversations.getTeam(tenantId, teamId);
    if (existing) await this.d.conversations.saveTeam({ ...existing, name });
  };

  /**
   * Action.Execute (Universal Actions): Teams waits for an invoke response and shows an error for
   * anything but 200 with a card or a message. What a button records comes later; the contract holds now.
   */
  private cardAction = async (context: TurnContext) => {
    const value = (context.activity.value ?? {}) as { action?: { type?: unknown; verb?: unknown } };
    const body =
      value.action?.type === 'Action.Execute'
        ? { statusCode: 200, type: ACTIVITY_MESSAGE, value: 'Thanks, your response was received.' }
        : {
            statusCode: 400,
            type: 'application/vnd.microsoft.error',
            value: { code: 'BadRequest', message: 'value.action must be an Action.Execute' },
          };
    await context.sendActivity({ type: ActivityTypes.InvokeResponse, value: { status: 200, body } });
  };

  /** Action.Submit in a chat: the data arrives as a message with `value`; no command reply. */
  private cardSubmit = async (context: TurnContext, tenantId: string) => {
    const activity = context.activity;
    const personal = activity.conversation?.conversationType === 'personal';
    await this.refreshSender(context, tenantId, personal ? activity.conversation.id : undefined);
  };

  private personalMessage = async (context: TurnContext, tenantId: string) => {
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

  private groupMessage = async (context: TurnContext, tenantId: string) => {
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
      : await this.profileOf(context, from);
    return this.d.conversations.saveUser(tenantId, profile, {
      conversationId: personalConversationId,
      source: personalConversationId ? 'personal' : undefined,
      reactivate: true,
    });
  }

  private async welcomeOnce(context: TurnContext, tenantId: string, profile: UserProfile): Promise<void> {
    const now = new Date().toISOString();
    const { changed } = await this.d.conversations.updateUser(tenantId, profile.userId, (current) =>
      current && !current.welcomedAt ? { ...current, welcomedAt: now, updatedAt: now } : undefined,
    );
    if (!changed) return;
    try {
      await context.sendActivity(welcomeText(profile.name));
    } catch (err) {
      // Let a later install event try again rather than never welcoming this user.
      await this.d.conversations.updateUser(tenantId, profile.userId, (current) =>
        current?.welcomedAt === now ? { ...current, welcomedAt: undefined } : undefined,
      );
      throw err;
    }
  }

  private async dropSource(tenantId: string, userId: string, source: string, reason: string): Promise<void> {
    await this.d.conversations.updateUser(tenantId, userId, (current) => {
      if (!current || !current.sources.includes(source)) return undefined;
      const sources = current.sources.filter((s) => s !== source);
      return {
        ...current,
        sources,
        inactiveReason: sources.length ? current.inactiveReason : reason,
        updatedAt: new Date().toISOString(),
      };
    });
  }

  private async syncRoster(context: TurnContext, tenantId: string, teamId: string): Promise<number> {
    const source = `team:${teamId}`;
    let continuationToken: string | undefined;
    let count = 0;
    do {
      const page = await TeamsInfo.getPagedMembers(context, this.d.config.rosterPageSize, continuationToken);
      const members = (page.members ?? []).filter(isAddressable);
      await this.forEachLimited(members, (member) =>
        this.d.conversations.saveUser(tenantId, profileFromAccount(member, context.activity.serviceUrl), {
          source,
          reactivate: true,
        }),
      );
      await this.d.conversations.addTeamMembers(
        tenantId,
        teamId,
        members.map((m) => m.id),
      );
      count += members.length;
      continuationToken = page.continuationToken || undefined;
    } while (continuationToken);
    return count;
  }

  private async profileOf(
    context: TurnContext,
    account: ChannelAccount,
  ): Promise<UserProfile & { anonymous?: boolean }> {
    try {
      const member = await TeamsInfo.getMember(context, account.id);
      return profileFromAccount({ ...account, ...member }, context.activity.serviceUrl);
    } catch {
      // The roster call is best effort: the activity's own fields are enough to DM this user later.
      return profileFromAccount(account as TeamsChannelAccount, context.activity.serviceUrl);
    }
  }

  private async rememberTenant(tenantId: string, activity: Activity): Promise<void> {
    const botId = activity.recipient?.id;
    const signature = `${activity.serviceUrl}|${botId}`;
    if (!botId || this.savedTenants.get(tenantId) === signature) return;
    await this.d.conversations.saveTenant({ tenantId, serviceUrl: activity.serviceUrl, botId });
    this.savedTenants.set(tenantId, signature);
  }

  private async forEachLimited<T>(items: T[], work: (item: T) => Promise<unknown>): Promise<void> {
    await pMap(items, work, { concurrency: ROSTER_WRITE_CONCURRENCY });
  }
}

/** A roster entry as Teams sends it: the REST answers name the Entra ID `objectId`, activities `aadObjectId`. */
type RosterAccount = Partial<TeamsChannelAccount> & { objectId?: string; userRole?: string };

/** Bot accounts have `28:` IDs; people have `29:` (or `8:orgid:` in some events). */
const isBotId = (id: string | undefined) => !!id && id.startsWith('28:');

/**
 * Who is kept from a roster: people with an Entra account. Anonymous meeting guests
 * (`userRole: "anonymous"`: no object ID, no UPN, no 1:1 chat possible) and bots are left out.
 */
function isAddressable(member: TeamsChannelAccount | ChannelAccount): boolean {
  const m = member as RosterAccount;
  return !isBotId(member.id) && m.userRole !== 'anonymous';
}

function profileFromAccount(
  member: TeamsChannelAccount | ChannelAccount,
  serviceUrl: string,
): UserProfile & { anonymous?: boolean } {
  const m = member as RosterAccount;
  return {
    userId: member.id,
    aadObjectId: m.aadObjectId || m.objectId || undefined,
    ...(m.userRole === 'anonymous' ? { anonymous: true } : {}),
    upn: m.userPrincipalName || m.email || undefined,
    name: m.name || undefined,
    serviceUrl,
  };
}
