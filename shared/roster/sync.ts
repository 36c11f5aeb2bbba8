import { TeamsInfo, type TurnContext } from 'botbuilder';
import type { ConversationStore } from '../stores/conversations.js';
import { forEachLimited, isAddressable, profileFromAccount } from './accounts.js';

/**
 * Reads a team's roster from Teams page by page (botbuilder's TeamsInfo.getPagedMembers) and stores
 * each member and their membership. The one roster reader: the bot on a team install, and audience
 * expansion when a stored roster is too old (refresh.ts).
 */
export async function syncRoster(
  context: TurnContext,
  conversations: ConversationStore,
  o: { tenantId: string; teamId: string; pageSize: number },
): Promise<number> {
  const source = `team:${o.teamId}`;
  let continuationToken: string | undefined;
  let count = 0;
  do {
    const page = await TeamsInfo.getPagedMembers(context, o.pageSize, continuationToken);
    const members = (page.members ?? []).filter(isAddressable);
    await forEachLimited(members, (member) =>
      conversations.saveUser(o.tenantId, profileFromAccount(member, context.activity.serviceUrl), {
        source,
        reactivate: true,
      }),
    );
    await conversations.addTeamMembers(
      o.tenantId,
      o.teamId,
      members.map((m) => m.id),
    );
    count += members.length;
    continuationToken = page.continuationToken || undefined;
  } while (continuationToken);
  return count;
}
