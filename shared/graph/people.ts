import type { DeliveryOutcome } from '../stores/deliveryRecords.js';
import type { GraphUser } from './port.js';

/**
 * Who the app installs itself for, as a pure decision (docs/graph.md, "Guests, disabled accounts,
 * users without Teams"). A disabled account cannot sign in, so a message would never be read; a
 * guest belongs to another organization, which has not agreed to our app (Company Communicator
 * skips guests the same way: microsoft-teams-apps-company-communicator
 * Source/CompanyCommunicator.Prep.Func/PreparingToSend/Activities/TeamsConversationActivity.cs).
 * Both are `skipped`: a policy, not a fault to fix. A guest or disabled user the bot already knows
 * (they installed it, or share a team with it) is not looked up in Graph and is messaged as before.
 */
export function installEligibility(user: GraphUser): DeliveryOutcome | undefined {
  if (user.accountEnabled === false) {
    return {
      status: 'skipped',
      reason: 'AccountDisabled',
      detail: 'the account is disabled in Microsoft Entra ID (accountEnabled false)',
    };
  }
  if (user.userType?.toLowerCase() === 'guest') {
    return {
      status: 'skipped',
      reason: 'GuestAccount',
      detail:
        'a guest account: the app is not installed for guests; a guest who installs the bot or shares a team with it is messaged',
    };
  }
  return undefined;
}
