import { TeamsInfo, type ChannelAccount, type TeamsChannelAccount, type TurnContext } from 'botbuilder';
import type { ConversationStore } from '../stores/conversations.js';
import { forEachLimited, isAddressable, profileFromAccount } from './accounts.js';

/**
 * Reads a team's roster from Teams page by page (botbuilder's TeamsInfo.getPagedMembers) and stores
 * each member and their membership. The one roster reader: the queued roster read after a team
 * install (rosterTask.ts), and audience expansion when a stored roster is too old (refresh.ts).
 */

/** One roster page as Teams answers it, and where the next one starts. */
export interface RosterPage {
  members: Array<TeamsChannelAccount | ChannelAccount>;
  token?: string | undefined;
}

/** Reads the roster page at `token` (the first page without one). */
export type RosterPageReader = (token: string | undefined) => Promise<RosterPage>;

export function pagedMembersReader(context: TurnContext, pageSize: number): RosterPageReader {
  return async (token) => {
    const page = await TeamsInfo.getPagedMembers(context, pageSize, token);
    return { members: page.members ?? [], token: page.continuationToken || undefined };
  };
}

/** Stores one page's people (bots and anonymous guests left out); how many were stored. */
export async function storeRosterPage(
  conversations: ConversationStore,
  o: { tenantId: string; teamId: string; serviceUrl: string },
  page: RosterPage,
): Promise<number> {
  const source = `team:${o.teamId}`;
  const members = page.members.filter(isAddressable);
  await forEachLimited(members, (member) =>
    conversations.saveUser(o.tenantId, profileFromAccount(member, o.serviceUrl), {
      source,
      reactivate: true,
    }),
  );
  await conversations.addTeamMembers(
    o.tenantId,
    o.teamId,
    members.map((m) => m.id),
  );
  return members.length;
}

/** The whole roster in one go (a stale roster read again before an audience expansion). */
export async function syncRoster(
  context: TurnContext,
  conversations: ConversationStore,
  o: { tenantId: string; teamId: string; pageSize: number },
): Promise<number> {
  const read = pagedMembersReader(context, o.pageSize);
  const where = { ...o, serviceUrl: context.activity.serviceUrl };
  let token: string | undefined;
  let count = 0;
  do {
    const page = await read(token);
    count += await storeRosterPage(conversations, where, page);
    token = page.token;
  } while (token);
  return count;
}
