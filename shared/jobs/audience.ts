import type { RecipientRef } from './recipient.js';

/**
 * Audiences: a job may name a whole team (`{ teamId }`), every user the bot knows in the tenant
 * (`{ allUsers: true }`) or an Entra group (`{ groupId }`, read through Microsoft Graph, nested
 * groups included) besides individual users. This module holds the pure decisions; the streaming
 * expansion is expand.ts (groups: shared/graph/groups.ts).
 */

export type AudienceRef = { teamId: string } | { allUsers: true } | { groupId: string };

/** A job's audiences after validation: team and group IDs in the order given (no duplicates), and allUsers. */
export interface Audience {
  teams: string[];
  allUsers: boolean;
  /** Entra group object IDs (lower case); absent on jobs accepted before groups existed. */
  groups?: string[] | undefined;
}

/** At most this many teams in one job: each is checked (and maybe re-read from Teams) before expansion. */
export const MAX_AUDIENCE_TEAMS = 25;
/** At most this many groups in one job: each is checked in Graph before expansion. */
export const MAX_AUDIENCE_GROUPS = 25;

export function isAudienceRef(ref: RecipientRef | AudienceRef): ref is AudienceRef {
  return 'teamId' in ref || 'allUsers' in ref || 'groupId' in ref;
}

/** The audience named by a job's recipients, or undefined when it names users only. */
export function audienceOf(refs: Array<RecipientRef | AudienceRef>): Audience | undefined {
  const teams: string[] = [];
  const groups: string[] = [];
  let allUsers = false;
  for (const ref of refs) {
    if ('allUsers' in ref) allUsers = true;
    else if ('teamId' in ref && !teams.includes(ref.teamId.trim())) teams.push(ref.teamId.trim());
    else if ('groupId' in ref && !groups.includes(ref.groupId.trim().toLowerCase()))
      groups.push(ref.groupId.trim().toLowerCase());
  }
  if (!teams.length && !groups.length && !allUsers) return undefined;
  return { teams, allUsers, ...(groups.length ? { groups } : {}) };
}

/**
 * The parts an audience is read in, one after another. Everyone in a team is a user the bot knows,
 * so with allUsers the teams add no one and are not read again; a group's members may be people
 * the bot never met, so groups are always read, last.
 */
export type Segment =
  | { kind: 'users' }
  | { kind: 'allUsers' }
  | { kind: 'team'; teamId: string }
  | { kind: 'group'; groupId: string; index: number };

export function segmentsOf(audience: Audience): Segment[] {
  const rest: Segment[] = audience.allUsers
    ? [{ kind: 'allUsers' }]
    : audience.teams.map((teamId) => ({ kind: 'team', teamId }));
  const groups: Segment[] = (audience.groups ?? []).map((groupId, index) => ({
    kind: 'group',
    groupId,
    index,
  }));
  return [{ kind: 'users' }, ...rest, ...groups];
}

/** Whether a team's stored roster is too old to expand without reading it from Teams again. */
export function rosterIsStale(rosterSyncedAt: string | undefined, maxAgeMs: number, now: number): boolean {
  if (!rosterSyncedAt) return true;
  return now - Date.parse(rosterSyncedAt) > maxAgeMs;
}

/** Where an expansion stands: kept on the job row, so a redelivered job continues from there. */
export interface ExpansionState {
  /** Index into segmentsOf(audience). */
  segment: number;
  /** The Table continuation token of the next page in that segment, if any. */
  token?: string | undefined;
  /** Deliveries queued so far (each person once). */
  queued: number;
  /** About how many people the audience holds (stored member and user counts). */
  estimate: number;
  done: boolean;
  /** Why nothing could be sent (unknown team or group, team without the bot, empty audience). */
  error?: ExpansionError | undefined;
}

export interface ExpansionError {
  reason: string;
  errors: string[];
}

export function expansionText(state: ExpansionState): string {
  return `expanded ${state.queued} of about ${Math.max(state.estimate, state.queued)}`;
}
