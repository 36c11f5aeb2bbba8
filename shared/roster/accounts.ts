import pMap from 'p-map';
import type { ChannelAccount, TeamsChannelAccount } from 'botbuilder';
import { AAD_OBJECT_ID, TEAMS_ID, UPN } from '../jobs/recipient.js';
import type { UserProfile } from '../stores/conversations.js';

/** Users as the bot learns them from activities and rosters (the bot and audience roster re-reads). */

const ROSTER_WRITE_CONCURRENCY = 8;

/** Runs `work` over `items` a few at a time: roster pages can hold 500 members. */
export async function forEachLimited<T>(items: T[], work: (item: T) => Promise<unknown>): Promise<void> {
  await pMap(items, work, { concurrency: ROSTER_WRITE_CONCURRENCY });
}

/** A roster entry as Teams sends it: the REST answers name the Entra ID `objectId`, activities `aadObjectId`. */
type RosterAccount = Partial<TeamsChannelAccount> & { objectId?: string; userRole?: string };

/** Bot accounts have `28:` IDs; people have `29:` (or `8:orgid:` in some events). */
export const isBotId = (id: string | undefined) => !!id && id.startsWith('28:');

/**
 * Who is kept from a roster: people with an Entra account. Anonymous meeting guests
 * (`userRole: "anonymous"`: no object ID, no UPN, no 1:1 chat possible) and bots are left out.
 */
export function isAddressable(member: TeamsChannelAccount | ChannelAccount): boolean {
  const m = member as RosterAccount;
  // An ID outside the job contract's rule could not be stored under a bounded key, nor named by a job.
  return !isBotId(member.id) && m.userRole !== 'anonymous' && TEAMS_ID.test(member.id ?? '');
}

/** An object ID or UPN kept only as the contract allows it (an alias is a key). */
const kept = (value: string | undefined, rule: RegExp) => (value && rule.test(value) ? value : undefined);

export function profileFromAccount(
  member: TeamsChannelAccount | ChannelAccount,
  serviceUrl: string,
): UserProfile & { anonymous?: boolean } {
  const m = member as RosterAccount;
  return {
    userId: member.id,
    aadObjectId: kept(m.aadObjectId || m.objectId, AAD_OBJECT_ID),
    ...(m.userRole === 'anonymous' ? { anonymous: true } : {}),
    upn: kept(m.userPrincipalName || m.email, UPN),
    name: m.name || undefined,
    serviceUrl,
  };
}
