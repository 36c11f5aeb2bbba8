import type { ConversationReference, TurnContext } from 'botbuilder';
import { createAdapter } from '../botFramework.js';
import type { AppConfig } from '../config.js';
import type { AudienceStore } from '../stores/audiences.js';
import { withoutSource, type ConversationStore, type TeamRecord } from '../stores/conversations.js';
import { forEachLimited } from './accounts.js';
import { pagedMembersReader, syncRoster } from './sync.js';
import type { RosterReader } from './rosterTask.js';

/**
 * Reads a team's roster from Teams again before a team audience is expanded (its stored roster is
 * older than ROSTER_MAX_AGE_MINUTES), through the same reader the bot uses on install. Members the
 * new roster did not list left the team: they lose it as a source and their member rows go, so
 * the expansion that follows does not send to them.
 */
export async function refreshRoster(
  team: TeamRecord,
  d: { config: AppConfig; conversations: ConversationStore; audiences: AudienceStore },
): Promise<void> {
  const started = new Date().toISOString();
  let count = 0;
  await withTeamContext(team, d.config, async (context) => {
    count = await syncRoster(context, d.conversations, {
      tenantId: team.tenantId,
      teamId: team.teamId,
      pageSize: d.config.rosterPageSize,
    });
  });
  const gone = await d.audiences.pruneTeamMembers(team.tenantId, team.teamId, started);
  await forEachLimited(gone, (userId) =>
    d.conversations.updateUser(
      team.tenantId,
      userId,
      withoutSource(`team:${team.teamId}`, 'RemovedFromTeam'),
    ),
  );
  await d.conversations.saveTeam({
    tenantId: team.tenantId,
    teamId: team.teamId,
    serviceUrl: team.serviceUrl,
    installed: true,
    memberCount: count,
    rosterSyncedAt: new Date().toISOString(),
  });
}

/** A turn in the team's conversation, to call Teams about it (its roster) outside any activity. */
export async function withTeamContext(
  team: Pick<TeamRecord, 'tenantId' | 'teamId' | 'serviceUrl'>,
  config: AppConfig,
  work: (context: TurnContext) => Promise<void>,
): Promise<void> {
  const reference: Partial<ConversationReference> = {
    channelId: 'msteams',
    serviceUrl: team.serviceUrl,
    conversation: {
      id: team.teamId,
      isGroup: true,
      conversationType: 'channel',
      tenantId: team.tenantId,
      name: '',
    },
  };
  // The bot's own identity, as for a proactive message; the service URL is the one Teams gave the team.
  await createAdapter(config).continueConversationAsync(config.bot.appId ?? '', reference, work);
}

/** Roster pages of a team, read from Teams in one turn (the queued roster read, rosterTask.ts). */
export function teamsRosterReader(config: AppConfig): RosterReader {
  return (team, work) =>
    withTeamContext(team, config, (context) => work(pagedMembersReader(context, config.rosterPageSize)));
}
