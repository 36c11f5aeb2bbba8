import pMap from 'p-map';
import type { ExpansionError } from '../jobs/audience.js';
import type { AudienceStore, IdPage } from '../stores/audiences.js';
import type { ConversationStore, UserRecord } from '../stores/conversations.js';
import { decideGraphFailure } from './failures.js';
import type { GraphFailure, GraphPort } from './port.js';
import { tenantProblem, type GraphSetup } from './setup.js';

/**
 * An Entra group as an audience (`{ groupId }`): its users, nested groups included
 * (`/groups/{id}/transitiveMembers/microsoft.graph.user`, group-list-transitivemembers.md), read a
 * page at a time, each page's `@odata.nextLink` the expansion's checkpoint (jobs/expand.ts). A
 * member the bot knows is queued by Teams user ID with their record, one it never met by object ID
 * (the delivery installs the app for them: reach.ts). Each person once: not again when the job
 * names them, when an earlier team of the job holds them, or an earlier group (group rows).
 */

/** Where a job's earlier groups are remembered, for the later ones (rows `gm|<jobId>|<n>|<oid>`). */
export interface GroupRows {
  add(tenantId: string, jobId: string, index: number, aadObjectIds: string[]): Promise<void>;
  has(tenantId: string, jobId: string, index: number, aadObjectId: string): Promise<boolean>;
}

/** Graph asked the expansion to wait (429, 503): the job comes back after this long. */
export type Deferred = { delayMs: number };

export interface GroupPageRequest {
  tenantId: string;
  jobId: string;
  groupId: string;
  /** The group's place among the job's groups, and how many there are. */
  index: number;
  groups: number;
  /** The job's teams before this group (their members were queued already). */
  teams: string[];
  allUsers: boolean;
  /** The job's named recipients: keys as queued (`userId:` when known, else `aadObjectId:`/`upn:`). */
  named: Map<string, string>;
  token: string | undefined;
  pageSize: number;
}

export interface GroupAudience {
  /** Before anything is queued: the group's size, or why it cannot be expanded. */
  check(
    tenantId: string,
    groupId: string,
  ): Promise<{ members: number } | { error: ExpansionError } | Deferred>;
  page(request: GroupPageRequest): Promise<IdPage | { error: ExpansionError } | Deferred>;
}

export class GraphGroups implements GroupAudience {
  constructor(
    private readonly o: {
      setup: GraphSetup;
      graph: GraphPort | undefined;
      conversations: Pick<ConversationStore, 'getUser'>;
      audiences: Pick<AudienceStore, 'isTeamMember'>;
      rows: GroupRows;
    },
  ) {}

  async check(tenantId: string, groupId: string) {
    const problem = tenantProblem(this.o.setup, tenantId);
    if (problem || !this.o.graph) {
      return error(
        'GraphNotConfigured',
        `/recipients: group ${groupId} is read through Microsoft Graph: ${problem ?? 'not configured'} (docs/graph.md)`,
      );
    }
    const counted = await this.o.graph.countGroupMembers(tenantId, groupId);
    return counted.ok ? { members: counted.value } : this.failed(counted, groupId);
  }

  async page(r: GroupPageRequest) {
    const graph = this.o.graph!;
    const read = await graph.groupMembers(r.tenantId, r.groupId, r.token, r.pageSize);
    if (!read.ok) return this.failed(read, r.groupId);
    const users: UserRecord[] = [];
    const kept = await pMap(
      read.value.users,
      async (member) => {
        const oid = member.id.toLowerCase();
        const upn = member.userPrincipalName?.toLowerCase();
        for (let earlier = 0; earlier < r.index; earlier++) {
          if (await this.o.rows.has(r.tenantId, r.jobId, earlier, oid)) return undefined;
        }
        const known = await this.o.conversations.getUser(r.tenantId, { kind: 'aadObjectId', value: oid });
        if (!known) {
          const named = r.named.has(`aadObjectId:${oid}`) || (!!upn && r.named.has(`upn:${upn}`));
          return named ? undefined : { oid, key: `aadObjectId:${oid}` };
        }
        // allUsers queued every active user the bot knows; an earlier team, its members.
        if (r.allUsers || r.named.has(known.userId)) return undefined;
        for (const teamId of r.teams) {
          if (await this.o.audiences.isTeamMember(r.tenantId, teamId, known.userId)) return undefined;
        }
        users.push(known);
        return { oid, key: `userId:${known.userId}` };
      },
      { concurrency: 16 },
    );
    const queued = kept.filter((k): k is { oid: string; key: string } => !!k);
    // Remembered for the later groups of the job only, before their keys are queued.
    if (r.index < r.groups - 1)
      await this.o.rows.add(
        r.tenantId,
        r.jobId,
        r.index,
        queued.map((k) => k.oid),
      );
    return { userIds: queued.map((k) => k.key), token: read.value.next, users };
  }

  private failed(failure: GraphFailure, groupId: string): { error: ExpansionError } | Deferred {
    const action = decideGraphFailure(failure, undefined);
    if (action.do === 'reschedule') return { delayMs: action.delayMs };
    if (action.do === 'retry') throw new Error(`group ${groupId}: ${action.detail}`);
    return error(action.reason, `/recipients: group ${groupId}: ${action.detail}`);
  }
}

const error = (reason: string, message: string) => ({ error: { reason, errors: [message] } });
