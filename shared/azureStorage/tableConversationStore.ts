import type { TableClient, TransactionAction } from '@azure/data-tables';
import type { RecipientKey } from '../jobs/recipient.js';
import {
  profileChange,
  type ConversationStore,
  type SaveUserOptions,
  type TeamRecord,
  type TenantRecord,
  type UserChange,
  type UserProfile,
  type UserRecord,
  type RosterSync,
} from '../stores/conversations.js';
import {
  aliasRow,
  memberPrefix,
  teamEntity,
  partitionOf,
  teamRow,
  toUser,
  userEntity,
  userRow,
  type Row,
} from './conversationRows.js';
import {
  getOrUndefined,
  isConflict,
  isNotFound,
  isPreconditionFailed,
  mergeIfUnchanged,
  keyPart,
  listByPrefix,
  prefixFilter,
  type LazyTable,
} from './table.js';

/**
 * The conversation store on Table Storage (rows: conversationRows.ts). Every read on a request path
 * is a point read; every update is ETag-guarded.
 */

const MAX_CAS_ATTEMPTS = 8;

export class TableConversationStore implements ConversationStore {
  constructor(private readonly table: LazyTable) {}

  async getUser(tenantId: string, key: RecipientKey): Promise<UserRecord | undefined> {
    const table = await this.table.client();
    const pk = partitionOf(tenantId);
    let userId = key.value;
    if (key.kind !== 'userId') {
      const alias = await getOrUndefined<Row>(
        table,
        pk,
        aliasRow(key.kind === 'upn' ? 'upn' : 'aad', key.value),
      );
      if (!alias) return undefined;
      userId = String(alias.userId);
    }
    return this.getUserById(tenantId, userId, table);
  }

  /**
   * Up to `maxRows` user records of a tenant, in pages of 1,000 (one storage transaction each): the
   * fan-out reads them once for a big job so each delivery need not read its user (deliver.ts).
   */
  async listUsers(tenantId: string, maxRows: number): Promise<UserRecord[]> {
    const table = await this.table.client();
    const pages = table
      .listEntities<Row>({ queryOptions: { filter: prefixFilter(partitionOf(tenantId), 'user|') } })
      .byPage({ maxPageSize: 1000 });
    const out: UserRecord[] = [];
    for await (const page of pages) {
      for (const row of page) out.push(toUser(tenantId, row));
      if (out.length >= maxRows) break;
    }
    return out;
  }

  async getUserById(tenantId: string, userId: string, client?: TableClient): Promise<UserRecord | undefined> {
    const table = client ?? (await this.table.client());
    const row = await getOrUndefined<Row>(table, partitionOf(tenantId), userRow(userId));
    return row ? toUser(tenantId, row) : undefined;
  }

  /**
   * Read-modify-write of one user with optimistic concurrency; alias rows are written in the same
   * transaction, so a lookup by UPN or AAD object ID never sees a half-written user.
   * Returns the stored record and whether it changed.
   */
  async updateUser(
    tenantId: string,
    userId: string,
    change: UserChange,
    known?: UserRecord,
  ): Promise<{ user: UserRecord | undefined; changed: boolean }> {
    const table = await this.table.client();
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = attempt === 0 && known?.etag ? known : await this.getUserById(tenantId, userId, table);
      const next = change(current);
      if (!next) return { user: current, changed: false };
      const entity = userEntity(next);
      const actions: TransactionAction[] = [
        current ? ['update', entity, 'Replace', { etag: current.etag }] : ['create', entity],
      ];
      for (const [kind, value] of [
        ['aad', next.aadObjectId],
        ['upn', next.upn],
      ] as const) {
        if (value) {
          actions.push([
            'upsert',
            { partitionKey: entity.partitionKey, rowKey: aliasRow(kind, value), userId },
            'Replace',
          ]);
        }
      }
      try {
        const result = await table.submitTransaction(actions);
        const etag = result.subResponses[0]?.etag ?? '';
        if (!current) await this.countUser(tenantId);
        return { user: { ...next, etag }, changed: true };
      } catch (err) {
        if (isConflict(err) || isPreconditionFailed(err)) continue;
        throw err;
      }
    }
    throw new Error(`Too much contention updating user record ${userRow(userId)}`);
  }

  async saveUser(tenantId: string, profile: UserProfile, options: SaveUserOptions = {}): Promise<UserRecord> {
    const change = profileChange(tenantId, profile, options, new Date().toISOString());
    const { user } = await this.updateUser(tenantId, profile.userId, change);
    if (!user) throw new Error('unreachable: saveUser produced no record');
    return user;
  }

  async saveTenant(record: TenantRecord): Promise<void> {
    const table = await this.table.client();
    await table.upsertEntity(
      {
        partitionKey: partitionOf(record.tenantId),
        rowKey: 'tenant',
        ...record,
        updatedAt: new Date().toISOString(),
      },
      // Merge keeps the user count.
      'Merge',
    );
  }

  /** One more known user on the tenant row: an estimate for audience progress, so a lost race is let go. */
  private async countUser(tenantId: string): Promise<void> {
    const table = await this.table.client();
    for (let attempt = 0; attempt < 3; attempt++) {
      const row = await getOrUndefined<Row>(table, partitionOf(tenantId), 'tenant');
      if (!row) return;
      const entity = {
        partitionKey: partitionOf(tenantId),
        rowKey: 'tenant',
        userCount: Number(row.userCount ?? 0) + 1,
      };
      // An estimate: a concurrent writer's change is retried, any other failure ignored.
      if ((await mergeIfUnchanged(table, entity, String(row.etag)).catch(() => '')) !== undefined) return;
    }
  }

  async getTenant(tenantId: string): Promise<TenantRecord | undefined> {
    const table = await this.table.client();
    const row = await getOrUndefined<Row>(table, partitionOf(tenantId), 'tenant');
    return row
      ? {
          tenantId: String(row.tenantId),
          serviceUrl: String(row.serviceUrl),
          botId: String(row.botId),
          userCount: Number(row.userCount ?? 0),
        }
      : undefined;
  }

  /** Merges: a record without `name` (roster sync, uninstall) keeps the stored name. */
  async saveTeam(record: TeamRecord): Promise<void> {
    const table = await this.table.client();
    await table.upsertEntity(teamEntity(record), 'Merge');
  }

  async saveTeamIf(record: TeamRecord, etag: string | undefined): Promise<string | undefined> {
    const table = await this.table.client();
    if (etag) return mergeIfUnchanged(table, teamEntity(record), etag);
    try {
      return (await table.createEntity(teamEntity(record))).etag ?? '';
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw err;
    }
  }

  async getTeam(tenantId: string, teamId: string): Promise<TeamRecord | undefined> {
    const table = await this.table.client();
    const row = await getOrUndefined<Row>(table, partitionOf(tenantId), teamRow(teamId));
    if (!row) return undefined;
    return {
      tenantId,
      teamId: String(row.teamId),
      name: (row.name as string) || undefined,
      serviceUrl: String(row.serviceUrl),
      installed: row.installed === true,
      memberCount: Number(row.memberCount ?? 0),
      rosterSyncedAt: (row.rosterSyncedAt as string) || undefined,
      ...(row.rosterSync ? { rosterSync: JSON.parse(String(row.rosterSync)) as RosterSync } : {}),
      etag: String(row.etag ?? ''),
    };
  }

  /** Records that users are members of a team (batched, 100 rows per transaction). */
  async addTeamMembers(tenantId: string, teamId: string, userIds: string[]): Promise<void> {
    const table = await this.table.client();
    const pk = partitionOf(tenantId);
    // When the row was last confirmed: a roster re-read prunes the rows it did not confirm.
    const syncedAt = new Date().toISOString();
    for (let i = 0; i < userIds.length; i += 100) {
      const actions: TransactionAction[] = userIds
        .slice(i, i + 100)
        .map((userId) => [
          'upsert',
          { partitionKey: pk, rowKey: memberPrefix(teamId) + keyPart(userId), userId, teamId, syncedAt },
          'Replace',
        ]);
      await table.submitTransaction(actions);
    }
  }

  async removeTeamMembers(tenantId: string, teamId: string, userIds: string[]): Promise<void> {
    const table = await this.table.client();
    const pk = partitionOf(tenantId);
    for (const userId of userIds) {
      await table.deleteEntity(pk, memberPrefix(teamId) + keyPart(userId)).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    }
  }

  /** Users recorded as members of a team: a range query inside the tenant's partition, not a scan. */
  async listTeamMembers(tenantId: string, teamId: string): Promise<string[]> {
    const table = await this.table.client();
    const rows = await listByPrefix<Row>(table, partitionOf(tenantId), memberPrefix(teamId), ['userId']);
    const ids = rows.map((row) => String(row.userId));
    return ids;
  }
}
