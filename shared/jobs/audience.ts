import type { RecipientRef } from './recipient.js';

/**
 * Audiences: a job may name a whole team (`{ teamId }`) or every user the bot knows in the tenant
 * (`{ allUsers: true }`) besides individual users. This module holds the pure decisions; the
 * streaming expansion is expand.ts.
 */

export type AudienceRef = { teamId: string } | { allUsers: true };

/** A job's audiences after validation: team IDs in the order given (no duplicates), and allUsers. */
export interface Audience {
  teams: string[];
  allUsers: boolean;
}

/** At most this many teams in one job: each is checked (and maybe re-read from Teams) before expansion. */
export const MAX_AUDIENCE_TEAMS = 25;

export function isAudienceRef(ref: RecipientRef | AudienceRef): ref is AudienceRef {
  return 'teamId' in ref || 'allUsers' in ref;
}

/** The audience named by a job's recipients, or undefined when it names users only. */
export function audienceOf(refs: Array<RecipientRef | AudienceRef>): Audience | undefined {
  const teams: string[] = [];
  let allUsers = false;
  for (const ref of refs) {
    if ('allUsers' in ref) allUsers = true;
    else if ('teamId' in ref && !teams.includes(ref.teamId.trim())) teams.push(ref.teamId.trim());
  }
  return teams.length || allUsers ? { teams, allUsers } : undefined;
}

/**
 * The parts an audience is read in, one after another. Everyone in a team is a user the bot knows,
 * so with allUsers the teams add no one and are not read again.
 */
export type Segment = { kind: 'users' } | { kind: 'allUsers' } | { kind: 'team'; teamId: string };

export function segmentsOf(audience: Audience): Segment[] {
  const rest: Segment[] = audience.allUsers
    ? [{ kind: 'allUsers' }]
    : audience.teams.map((teamId) => ({ kind: 'team', teamId }));
  return [{ kind: 'users' }, ...rest];
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
  /** Why nothing could be sent (unknown team, team without the bot, empty audience). */
  error?: { reason: string; errors: string[] } | undefined;
}

export function expansionText(state: ExpansionState): string {
  return `expanded ${state.queued} of about ${Math.max(state.estimate, state.queued)}`;
}
