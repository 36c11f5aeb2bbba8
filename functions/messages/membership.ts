import type { TurnContext } from 'botbuilder';
import { withoutSource, type UserProfile } from '../../shared/stores/conversations.js';
import { EventNames, telemetry } from '../../shared/telemetry/telemetry.js';
import { welcomeText } from './commands.js';
import { forEachLimited, isBotId, profileFromAccount } from '../../shared/roster/accounts.js';
import { isFreshMark } from '../../shared/stores/installMarks.js';
import { requestRosterSync } from '../../shared/roster/rosterTask.js';
import { profileOf } from './profiles.js';
import type { BotDependencies, ChannelData } from './botTypes.js';
import { plural } from '../../shared/text.js';

/**
 * Installs, uninstalls and roster changes: who the bot can DM, and from which team or chat it knows
 * them. A user the bot no longer shares any team or chat with is marked inactive.
 */
export class Membership {
  constructor(private readonly d: BotDependencies) {}

  installPersonal = async (context: TurnContext, tenantId: string) => {
    const activity = context.activity;
    // An install the app made itself through Microsoft Graph, for a notification (shared/graph/reach.ts):
    // the mark holds the profile (no roster call), and that notification is their first message.
    const aad = activity.from.aadObjectId;
    const mark = aad ? await this.d.installMarks?.get(tenantId, aad) : undefined;
    const ours = isFreshMark(mark);
    const profile = ours
      ? {
          ...profileFromAccount(activity.from, activity.serviceUrl),
          upn: mark.upn,
          name: mark.name ?? activity.from.name,
        }
      : await profileOf(context, activity.from);
    await this.d.conversations.saveUser(tenantId, profile, {
      source: 'personal',
      conversationId: activity.conversation.id,
      reactivate: true,
    });
    telemetry().event(EventNames.botInstalled, { tenantId, scope: 'personal', by: ours ? 'graph' : 'user' });
    await this.welcomeOnce(context, tenantId, profile, ours);
    return ours
      ? 'installed (personal, by the app through Microsoft Graph: no welcome)'
      : 'installed (personal)';
  };

  uninstallPersonal = async (context: TurnContext, tenantId: string) => {
    await this.dropSource(tenantId, context.activity.from.id, 'personal', 'Uninstalled');
    telemetry().event(EventNames.botUninstalled, { tenantId, scope: 'personal' });
    return 'uninstalled (personal)';
  };

  /**
   * A team install answers Teams at once: the team is recorded and its roster read is queued
   * (shared/roster/rosterTask.ts), not done in this turn, so a team of thousands answers as fast as
   * one of three, and Teams' retry of the same install asks for no second read.
   */
  installTeam = async (context: TurnContext, tenantId: string, channelData: ChannelData) => {
    const teamId = channelData.team?.id;
    if (!teamId) return; // A group chat: nothing to store for DMs.
    const queued = await requestRosterSync(
      { conversations: this.d.conversations, queue: this.d.deliveryQueue },
      { tenantId, teamId, name: channelData.team?.name, serviceUrl: context.activity.serviceUrl },
    );
    if (!queued) return 'team install seen again: its roster read is under way or just done';
    telemetry().event(EventNames.botInstalled, { tenantId, scope: 'team' });
    return 'installed in a team (roster read queued)';
  };

  uninstallTeam = async (context: TurnContext, tenantId: string, channelData: ChannelData) => {
    const teamId = channelData.team?.id;
    if (!teamId) return;
    const members = await this.d.conversations.listTeamMembers(tenantId, teamId);
    await forEachLimited(members, (userId) =>
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
    return `removed from a team (${plural(members.length, 'member')})`;
  };

  teamMembersChanged = async (context: TurnContext, tenantId: string, channelData: ChannelData) => {
    const teamId = channelData.team?.id as string;
    const team = await this.d.conversations.getTeam(tenantId, teamId);
    if (team && !team.installed) return;
    const added = context.activity.membersAdded ?? [];
    const removed = context.activity.membersRemoved ?? [];
    const source = `team:${teamId}`;
    const people = added.filter((m) => !isBotId(m.id));
    const stored: string[] = [];
    await forEachLimited(people, async (member) => {
      const profile = await profileOf(context, member);
      if (profile.anonymous) return;
      await this.d.conversations.saveUser(tenantId, profile, { source, reactivate: true });
      stored.push(member.id);
    });
    await this.d.conversations.addTeamMembers(tenantId, teamId, stored);
    await forEachLimited(removed, (member) =>
      this.dropSource(tenantId, member.id, source, 'RemovedFromTeam'),
    );
    await this.d.conversations.removeTeamMembers(
      tenantId,
      teamId,
      removed.map((m) => m.id),
    );
  };

  teamRenamed = async (_context: TurnContext, tenantId: string, channelData: ChannelData) => {
    const teamId = channelData.team?.id;
    const name = channelData.team?.name;
    if (!teamId || !name) return;
    const existing = await this.d.conversations.getTeam(tenantId, teamId);
    if (existing) await this.d.conversations.saveTeam({ ...existing, name });
  };

  /** Welcomes a user once; `silently`: only notes them as welcomed (a notification came first). */
  private async welcomeOnce(
    context: TurnContext,
    tenantId: string,
    profile: UserProfile,
    silently = false,
  ): Promise<void> {
    const now = new Date().toISOString();
    const { changed } = await this.d.conversations.updateUser(tenantId, profile.userId, (current) =>
      current && !current.welcomedAt ? { ...current, welcomedAt: now, updatedAt: now } : undefined,
    );
    if (!changed || silently) return;
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
    await this.d.conversations.updateUser(tenantId, userId, withoutSource(source, reason));
  }
}
