import type { UserRecord } from './conversations.js';

/**
 * The audience store port: who a team or a whole tenant is, read page by page so an audience is
 * never held whole. Table adapter: azureStorage/tableAudienceStore.ts.
 */

/** One page of user IDs from a range read, and where the next page starts. */
export interface IdPage {
  userIds: string[];
  token?: string | undefined;
  /** The users' records when the read had them (allUsers pages): deliveries use them as snapshots. */
  users?: UserRecord[] | undefined;
}

export interface AudienceStore {
  /** A page of the tenant's active users (a range read of its user rows). */
  pageUsers(tenantId: string, size: number, token?: string): Promise<IdPage>;
  /** A page of a team's stored roster (a range read of its member rows). */
  pageTeamMembers(tenantId: string, teamId: string, size: number, token?: string): Promise<IdPage>;
  isTeamMember(tenantId: string, teamId: string, userId: string): Promise<boolean>;
  /** Removes member rows last confirmed before `before` (a roster re-read did not see them); returns their users. */
  pruneTeamMembers(tenantId: string, teamId: string, before: string): Promise<string[]>;
}
