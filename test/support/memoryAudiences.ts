import type { AudienceStore, IdPage } from '../../shared/stores/audiences.js';
import { emptyCounts, type Counts } from '../../shared/jobs/outcomeCounts.js';
import type { JobCounterStore } from '../../shared/stores/jobs.js';
import type { MemoryConversationStore, MemoryDeliveryRecordStore } from './memoryStores.js';

/** In-memory twins of the audience reads and a job's counters, over memoryStores.ts's twins. */

/** Pages over sorted IDs: the token is the offset of the next page. */
function pageOf(ids: string[], size: number, token?: string): IdPage {
  const start = Number(token ?? 0);
  const next = start + size;
  return { userIds: ids.slice(start, next), token: next < ids.length ? String(next) : undefined };
}

export class MemoryAudienceStore implements AudienceStore {
  constructor(private readonly conversations: MemoryConversationStore) {}

  async pageUsers(tenantId: string, size: number, token?: string): Promise<IdPage> {
    const pk = `${tenantId.toLowerCase()}|`;
    const users = [...this.conversations.users]
      .filter(([k, u]) => k.startsWith(pk) && !u.inactiveReason)
      .map(([, u]) => u)
      .sort((a, b) => a.userId.localeCompare(b.userId));
    const page = pageOf(
      users.map((u) => u.userId),
      size,
      token,
    );
    return { ...page, users: users.filter((u) => page.userIds.includes(u.userId)) };
  }

  async pageTeamMembers(tenantId: string, teamId: string, size: number, token?: string): Promise<IdPage> {
    return pageOf((await this.conversations.listTeamMembers(tenantId, teamId)).sort(), size, token);
  }

  async isTeamMember(tenantId: string, teamId: string, userId: string): Promise<boolean> {
    return (await this.conversations.listTeamMembers(tenantId, teamId)).includes(userId);
  }

  async pruneTeamMembers(): Promise<string[]> {
    return []; // The twin keeps no confirmation times; roster re-reads are tested on Azurite.
  }
}

export class MemoryJobCounters implements JobCounterStore {
  constructor(private readonly records: MemoryDeliveryRecordStore) {}

  async totals(tenantId: string, jobId: string): Promise<Counts> {
    return { ...(this.records.counts.get(`${tenantId.toLowerCase()}|${jobId}`) ?? emptyCounts()) };
  }
}
