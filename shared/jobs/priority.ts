import type { Lane } from '../delivery/lanes.js';

/**
 * A job's `priority` (docs/job-contract.md#priority) and the lane its deliveries run in. Pure.
 *
 * - `urgent`: its own queue and the first claim on the tenant's budget, and Teams alerts the person.
 *   For a few people: a job naming more than URGENT_MAX_RECIPIENTS, or an audience, is refused.
 * - `normal` (the default): before bulk deliveries, which keep a floor of the budget.
 * - `bulk`: the default for audiences and for jobs naming more than BULK_ABOVE_RECIPIENTS people.
 */

export type Priority = Lane;

/** A job naming more people than this is a broadcast: bulk unless it says otherwise. */
export const BULK_ABOVE_RECIPIENTS = 100;
/**
 * Urgent is for a page or an incident, a few people: more would take the tenant's whole budget from
 * everything else for as long as it runs.
 */
export const URGENT_MAX_RECIPIENTS = 50;

interface JobShape {
  priority?: Priority | undefined;
  recipients: readonly unknown[];
  audience?: unknown;
}

/** The lane a job's deliveries run in: its priority, or the default for its size. */
export function laneOf(job: JobShape): Lane {
  if (job.priority) return job.priority;
  return job.audience || job.recipients.length > BULK_ABOVE_RECIPIENTS ? 'bulk' : 'normal';
}

/** Why a job may not have the priority it asks for (a schema error's text), or undefined. */
export function priorityRefusal(job: JobShape): string | undefined {
  if (job.priority !== 'urgent') return undefined;
  if (job.audience)
    return '/priority: urgent is for people named one by one, not audiences (teams, groups, all users); use normal or bulk';
  if (job.recipients.length > URGENT_MAX_RECIPIENTS)
    return `/priority: urgent is for at most ${URGENT_MAX_RECIPIENTS} recipients (this job names ${job.recipients.length}); use normal or bulk`;
  return undefined;
}
