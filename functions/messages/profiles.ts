import { TeamsInfo, type TurnContext } from 'botbuilder';
import type { ChannelAccount, TeamsChannelAccount } from 'botbuilder';
import type { UserProfile } from '../../shared/stores/conversations.js';
import { profileFromAccount } from '../../shared/roster/accounts.js';

/** An account's profile with its UPN and email from the roster (one call), else from the activity alone. */
export async function profileOf(
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
