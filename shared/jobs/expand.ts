import pMap from 'p-map';
import type { QueueSender } from '../queues.js';
import type { AudienceStore, IdPage } from '../stores/audiences.js';
import type { ConversationStore, TeamRecord } from '../stores/conversations.js';
import { chunksOf, type BatchRecipient } from '../delivery/batch.js';
import type { JobRecord, JobStore } from '../stores/jobs.js';
import {
  rosterIsStale,
  segmentsOf,
  type Audience,
  type ExpansionError,
  type ExpansionState,
  type Segment,
} from './audience.js';
import type { NotificationJob } from './contract.js';
import { recipientKeyString } from './recipient.js';
import type { GroupAudience } from '../graph/groups.js';

/**
 * Streaming audience expansion: the audience is read a page at a time (range reads of the tenant's
 * user rows or a team's member rows), each page is queued as deliveries keyed `userId:<id>`, and a
 * checkpoint (segment, continuation token, count) is saved on the job row after each page. A crash
 * or redelivery continues from the checkpoint: a page queued again before its checkpoint was saved
 * is absorbed by each delivery's exactly-once claim. Only one page and the job's named users (at
 * most 500) are ever held in memory.
 *
 * A window (docs/delivery.md#fair-shares-within-a-lane): at most `window` of a job's recipients are
 * queued ahead of their outcomes. When the window is full the expansion pauses (ExpansionPaced: the
 * job comes back on the jobs queue shortly and continues from its checkpoint), so a broadcast never
 * fills its lane's queue and another job's deliveries queued meanwhile are read at once, not after
 * thousands of the broadcast's.
 */

export interface ExpanderOptions {
  jobs: JobStore;
  conversations: Pick<ConversationStore, 'getUser' | 'getTeam' | 'getTenant'>;
  audiences: AudienceStore;
  deliveryQueue: QueueSender;
  pageSize: number;
  fanOutConcurrency: number;
  rosterMaxAgeMs: number;
  /** Reads a team's roster from Teams again (roster/refresh.ts); absent where no bot is configured. */
  refreshRoster?: ((team: TeamRecord) => Promise<void>) | undefined;
  /** Entra groups, through Microsoft Graph (graph/groups.ts). */
  groups?: GroupAudience | undefined;
  /** Recipients of one job queued ahead of their outcomes (AUDIENCE_WINDOW); 0 or absent: no window. */
  window?: number | undefined;
  /** Outcomes a job has so far (its counters, audience jobs count theirs: outcomeCounts.ts). */
  finished?: ((tenantId: string, jobId: string) => Promise<number>) | undefined;
}

/** How long a paced expansion waits before looking at its window again. */
export const WINDOW_RECHECK_MS = 1000;

/** Stops an expansion whose checkpoint another worker moved on (it took the job over). */
export class ExpansionTakenOver extends Error {}

/** Graph asked to wait (429, 503): the job comes back after `delayMs` and continues from its checkpoint. */
export class ExpansionDeferred extends Error {
  constructor(
    readonly delayMs: number,
    message = `the expansion waits ${delayMs} ms for Microsoft Graph`,
  ) {
    super(message);
  }
}

/** The job's window is full: it comes back after `delayMs` and queues more as its outcomes come in. */
export class ExpansionPaced extends ExpansionDeferred {
  constructor(delayMs: number) {
    super(delayMs, `the expansion waits ${delayMs} ms for its window to drain`);
  }
}

export class AudienceExpander {
  constructor(private readonly o: ExpanderOptions) {}

  /**
   * Expands and queues the job's audience from where its checkpoint stands; `send` queues a few
   * recipients (one queue message, delivery/batch.ts). Returns the final state (with `error` when the audience could not be expanded).
   */
  async expand(
    job: NotificationJob & { audience: Audience },
    record: JobRecord,
    send: (recipients: BatchRecipient[]) => Promise<void>,
  ): Promise<ExpansionState> {
    let etag = record.etag ?? '';
    let state = record.expansion;
    if (state?.done) return state;
    if (!state) {
      state = await this.start(job);
      etag = await this.save(job, state, etag);
      if (state.done) return state;
    }
    const named = await this.namedUsers(job);
    const segments = segmentsOf(job.audience);
    let room = await this.room(job, state);
    while (state.segment < segments.length) {
      if (room <= 0) throw new ExpansionPaced(WINDOW_RECHECK_MS);
      const segment = segments[state.segment] as Segment;
      const page = await this.page(job, segment, state.token, named, Math.min(this.o.pageSize, room));
      if ('delayMs' in page) throw new ExpansionDeferred(page.delayMs);
      if ('error' in page) {
        state = { ...state, done: true, error: page.error };
        await this.save(job, state, etag);
        return state;
      }
      const snapshots = new Map((page.users ?? []).map((u) => [`userId:${u.userId}`, u]));
      const recipients = page.userIds.map((recipient) => ({ recipient, user: snapshots.get(recipient) }));
      await pMap(chunksOf(recipients), send, { concurrency: this.o.fanOutConcurrency });
      room -= page.userIds.length;
      state = {
        ...state,
        queued: state.queued + page.userIds.length,
        segment: page.token ? state.segment : state.segment + 1,
        token: page.token,
      };
      etag = await this.save(job, state, etag);
    }
    state = { ...state, done: true };
    if (state.queued === 0) {
      state.error = { reason: 'EmptyAudience', errors: ['/recipients: the audience holds no active user'] };
    }
    await this.save(job, state, etag);
    return state;
  }

  /**
   * How many more of the job's recipients may be queued now: the window less those queued without
   * an outcome yet. A window less than a quarter open is left to drain first (a look costs a read).
   */
  private async room(job: NotificationJob, state: ExpansionState): Promise<number> {
    const window = this.o.window ?? 0;
    if (!window || !this.o.finished) return Infinity;
    const open = window - (state.queued - (await this.o.finished(job.tenantId, job.id)));
    return open < window / 4 ? 0 : open;
  }

  /** Checks the teams, re-reads stale rosters and estimates the size, before anything is queued. */
  private async start(job: NotificationJob & { audience: Audience }): Promise<ExpansionState> {
    const fresh: ExpansionState = { segment: 0, queued: 0, estimate: job.recipients.length, done: false };
    let members = 0;
    for (const teamId of job.audience.teams) {
      let team = await this.o.conversations.getTeam(job.tenantId, teamId);
      const error = !team
        ? {
            reason: 'UnknownTeam',
            errors: [`/recipients: team ${teamId} is not known to the bot in this tenant`],
          }
        : !team.installed
          ? {
              reason: 'TeamNotInstalled',
              errors: [`/recipients: the bot is not installed in team ${teamId}`],
            }
          : undefined;
      if (error || !team) return { ...fresh, done: true, error };
      if (
        !job.audience.allUsers &&
        this.o.refreshRoster &&
        rosterIsStale(team.rosterSyncedAt, this.o.rosterMaxAgeMs, Date.now())
      ) {
        await this.o.refreshRoster(team);
        team = (await this.o.conversations.getTeam(job.tenantId, teamId)) ?? team;
      }
      members += team.memberCount;
    }
    if (job.audience.allUsers) members = (await this.o.conversations.getTenant(job.tenantId))?.userCount ?? 0;
    for (const groupId of job.audience.groups ?? []) {
      const checked = this.o.groups
        ? await this.o.groups.check(job.tenantId, groupId)
        : {
            error: {
              reason: 'GraphNotConfigured',
              errors: [`/recipients: group ${groupId} needs Microsoft Graph`],
            },
          };
      if ('delayMs' in checked) throw new ExpansionDeferred(checked.delayMs);
      if ('error' in checked) return { ...fresh, done: true, error: checked.error };
      members += checked.members;
    }
    return { ...fresh, estimate: fresh.estimate + members };
  }

  /** The users the job names one by one, as `userId:` keys where the bot knows them (so a person is keyed once). */
  private async namedUsers(job: NotificationJob): Promise<Map<string, string>> {
    const named = new Map<string, string>();
    await pMap(
      job.recipients,
      async (key) => {
        const user =
          key.kind === 'userId' ? undefined : await this.o.conversations.getUser(job.tenantId, key);
        const id = key.kind === 'userId' ? key.value : user?.userId;
        named.set(id ?? recipientKeyString(key), id ? `userId:${id}` : recipientKeyString(key));
      },
      { concurrency: 16 },
    );
    return named;
  }

  /** One page of a segment as recipient keys, without anyone an earlier segment already queued. */
  private async page(
    job: NotificationJob & { audience: Audience },
    segment: Segment,
    token: string | undefined,
    named: Map<string, string>,
    pageSize: number,
  ): Promise<IdPage | { error: ExpansionError } | { delayMs: number }> {
    if (segment.kind === 'users') return { userIds: [...new Set(named.values())] };
    if (segment.kind === 'group') {
      const { teams, allUsers, groups = [] } = job.audience;
      return this.o.groups!.page({
        tenantId: job.tenantId,
        jobId: job.id,
        groupId: segment.groupId,
        index: segment.index,
        groups: groups.length,
        teams: allUsers ? [] : teams,
        allUsers,
        named,
        token,
        pageSize,
      });
    }
    const read =
      segment.kind === 'allUsers'
        ? await this.o.audiences.pageUsers(job.tenantId, pageSize, token)
        : await this.o.audiences.pageTeamMembers(job.tenantId, segment.teamId, pageSize, token);
    const earlier =
      segment.kind === 'team' ? job.audience.teams.slice(0, job.audience.teams.indexOf(segment.teamId)) : [];
    const keep = await pMap(
      read.userIds,
      async (userId) => {
        if (named.has(userId)) return undefined;
        for (const teamId of earlier) {
          if (await this.o.audiences.isTeamMember(job.tenantId, teamId, userId)) return undefined;
        }
        return `userId:${userId}`;
      },
      { concurrency: 16 },
    );
    return { userIds: keep.filter((k): k is string => !!k), token: read.token, users: read.users };
  }

  private async save(job: NotificationJob, state: ExpansionState, etag: string): Promise<string> {
    const next = await this.o.jobs.saveExpansion(job.tenantId, job.id, state, etag);
    if (next === undefined)
      throw new ExpansionTakenOver(`job ${job.id}: another worker continued the expansion`);
    return next;
  }
}
