import pMap from 'p-map';
import { TeamsInfo, type TurnContext } from 'botbuilder';
import type { ChannelAccount, TeamsChannelAccount } from 'botbuilder';
import type { UserProfile } from '../../shared/stores/conversations.js';

/** Users as the bot learns them from activities and rosters. */

const ROSTER_WRITE_CONCURRENCY = 8;

/** Runs `work` over `items` a few at a time: roster pages can hold 500 members. */
export async function forEachLimited<T>(items: T[], work: (item: T) => Promise<unknown>): Promise<void> {
  await pMap(items, work, { concurrency: ROSTER_WRITE_CONCURRENCY });
}

export function profileFromAccount(
  member: TeamsChannelAccount | ChannelAccount,
  serviceUrl: string,
): UserProfile {
  const m = member as Partial<TeamsChannelAccount>;
  return {
    userId: member.id,
    aadObjectId: m.aadObjectId || undefined,
    upn: m.userPrincipalName || m.email || undefined,
    name: m.name || undefined,
    serviceUrl,
  };
}

/** An account's profile with its UPN and email from the roster (one call), else from the activity alone. */
export async function profileOf(context: TurnContext, account: ChannelAccount): Promise<UserProfile> {
  try {
    const member = await TeamsInfo.getMember(context, account.id);
    return profileFromAccount({ ...account, ...member }, context.activity.serviceUrl);
  } catch {
    // The roster call is best effort: the activity's own fields are enough to DM this user later.
    return profileFromAccount(account as TeamsChannelAccount, context.activity.serviceUrl);
  }
}
