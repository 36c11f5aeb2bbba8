import type { AudienceStore, IdPage } from '../stores/audiences.js';
import { memberPrefix, partitionOf, toUser, userRow, type Row } from './conversationRows.js';
import { getOrUndefined, isNotFound, keyPart, pageByPrefix, type LazyTable } from './table.js';

/**
 * Audience reads on the Conversations table: pages of a tenant's user rows or a team's member rows,
 * each a range read inside the tenant's partition (never a scan of other tenants' rows).
 */
export class TableAudienceStore implements AudienceStore {
  constructor(private readonly table: LazyTable) {}

  async pageUsers(tenantId: string, size: number, token?: string): Promise<IdPage> {
    const table = await this.table.client();
    const page = await pageByPrefix<Row>(table, {
      partitionKey: partitionOf(tenantId),
      prefix: userRow(''),
      extra: 'active eq true',
      size,
      token,
    });
    const users = page.rows.map((r) => toUser(tenantId, r));
    return { userIds: users.map((u) => u.userId), token: page.token, users };
  }

  async pageTeamMembers(tenantId: string, teamId: string, size: number, token?: string): Promise<IdPage> {
    const table = await this.table.client();
    const page = await pageByPrefix<Row>(table, {
      partitionKey: partitionOf(tenantId),
      prefix: memberPrefix(teamId),
      select: ['userId'],
      size,
      token,
    });
    return { userIds: page.rows.map((r) => String(r.userId)), token: page.token };
  }

  async isTeamMember(tenantId: string, teamId: string, userId: string): Promise<boolean> {
    const table = await this.table.client();
    const row = await getOrUndefined<Row>(
      table,
      partitionOf(tenantId),
      memberPrefix(teamId) + keyPart(userId),
    );
    return !!row;
  }

  async pruneTeamMembers(tenantId: string, teamId: string, before: string): Promise<string[]> {
    const table = await this.table.client();
    const gone: string[] = [];
    let token: string | undefined;
    do {
      const page = await pageByPrefix<Row>(table, {
        partitionKey: partitionOf(tenantId),
        prefix: memberPrefix(teamId),
        select: ['userId', 'syncedAt'],
        size: 1000,
        token,
      });
      for (const row of page.rows) if (String(row.syncedAt ?? '') < before) gone.push(String(row.userId));
      token = page.token;
    } while (token);
    for (const userId of gone) {
      await table
        .deleteEntity(partitionOf(tenantId), memberPrefix(teamId) + keyPart(userId))
        .catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
    }
    return gone;
  }
}
