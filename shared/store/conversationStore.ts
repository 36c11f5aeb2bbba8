import type { TableClient, TransactionAction } from '@azure/data-tables';
import {
  getOrUndefined,
  isConflict,
  isPreconditionFailed,
  keyPart,
  listByPrefix,
  type LazyTable,
} from '../storage/table.js';
import type { RecipientKey } from '../jobs/recipient.js';

/**
 * The conversation store: everything needed to DM a user later, in one table, one partition per tenant.
 * Rows (RowKey):
 *   user|<teamsUserId>        the canonical user record
 *   aad|<aadObjectId>         alias → userId
 *   upn|<upn>                 alias → userId
 *   tenant                    the tenant's last service URL and bot ID
 *   team|<teamId>             a team the bot was installed in
 *   member|<teamId>|<userId>  roster membership, so an uninstall can find the team's users
 * Delivery records live in the same partition (see deliveryStore.ts) so a delivery claim and the
 * recipient's hourly counter commit in one entity-group transaction.
 * Every read on a request path is a point read; every update is ETag-guarded.
 */

export interface UserProfile {
  userId: string;
  aadObjectId?: string | undefined;
  upn?: string | undefined;
  name?: string | undefined;
  serviceUrl: string;
}

export interface UserRecord extends UserProfile {
  tenantId: string;
  /** The 1:1 chat between the bot and this user, once known. */
  conversationId?: string | undefined;
  /** How the bot knows this user: 'personal' (installed in 1:1) and/or 'team:<id>'. */
  sources: string[];
  /**
   * Why the bot may not message this user now: a Teams 403 code, or removal from every team and chat
   * the bot knew them from. Cleared when they install the bot or talk to it again.
   */
  inactiveReason?: string | undefined;
  optedOut: boolean;
  welcomedAt?: string | undefined;
  capHour?: string | undefined;
  capCount: number;
  /**
   * Epoch ms reserved for the latest send to this user's 1:1 chat, written with each delivery claim, so
   * instances space their sends to one chat under its per-conversation limit (rateLimiter.ts).
   */
  chatNextAt?: number | undefined;
  updatedAt: string;
  etag: string;
}

export const isActive = (user: UserRecord) => !user.inactiveReason;

export interface TenantRecord {
  tenantId: string;
  serviceUrl: string;
  botId: string;
}

export interface TeamRecord {
  tenantId: string;
  teamId: string;
  name?: string | undefined;
  serviceUrl: string;
  installed: boolean;
  memberCount: number;
  rosterSyncedAt?: string | undefined;
}

export const userRow = (userId: string) => `user|${keyPart(userId)}`;
const aliasRow = (kind: 'aad' | 'upn', value: string) => `${kind}|${keyPart(value.toLowerCase())}`;
const teamRow = (teamId: string) => `team|${keyPart(teamId)}`;
const memberPrefix = (teamId: string) => `member|${keyPart(teamId)}|`;
export const partitionOf = (tenantId: string) => tenantId.toLowerCase();

const MAX_CAS_ATTEMPTS = 8;

type Row = Record<string, unknown> & { etag?: string };

function toUser(tenantId: string, row: Row): UserRecord {
  return {
    tenantId,
    userId: String(row.userId),
    aadObjectId: (row.aadObjectId as string) || undefined,
    upn: (row.upn as string) || undefined,
    name: (row.name as string) || undefined,
    serviceUrl: String(row.serviceUrl ?? ''),
    conversationId: (row.conversationId as string) || undefined,
    sources: row.sources ? (JSON.parse(String(row.sources)) as string[]) : [],
    inactiveReason: (row.inactiveReason as string) || undefined,
    optedOut: row.optedOut === true,
    welcomedAt: (row.welcomedAt as string) || undefined,
    capHour: (row.capHour as string) || undefined,
    capCount: typeof row.capCount === 'number' ? row.capCount : 0,
    chatNextAt: typeof row.chatNextAt === 'number' && row.chatNextAt > 0 ? row.chatNextAt : undefined,
    updatedAt: String(row.updatedAt ?? ''),
    etag: String(row.etag ?? ''),
  };
}

export function userEntity(user: Omit<UserRecord, 'etag'>) {
  return {
    partitionKey: partitionOf(user.tenantId),
    rowKey: userRow(user.userId),
    userId: user.userId,
    aadObjectId: user.aadObjectId ?? '',
    upn: user.upn?.toLowerCase() ?? '',
    name: user.name ?? '',
    serviceUrl: user.serviceUrl,
    conversationId: user.conversationId ?? '',
    sources: JSON.stringify(user.sources),
    inactiveReason: user.inactiveReason ?? '',
    active: !user.inactiveReason,
    optedOut: user.optedOut,
    welcomedAt: user.welcomedAt ?? '',
    capHour: user.capHour ?? '',
    capCount: user.capCount,
    chatNextAt: user.chatNextAt ?? 0,
    updatedAt: user.updatedAt,
  };
}

/** A change to a user: return the new record, or undefined to leave it as it is. */
export type UserChange = (current: UserRecord | undefined) => Omit<UserRecord, 'etag'> | undefined;

export class ConversationStore {
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
    const prefix = 'user|';
    const pk = partitionOf(tenantId);
    const quoted = (v: string) => `'${v.replace(/'/g, "''")}'`;
    const pages = table
      .listEntities<Row>({
        queryOptions: {
          filter: `PartitionKey eq ${quoted(pk)} and RowKey ge ${quoted(prefix)} and RowKey lt ${quoted(`${prefix}~`)}`,
        },
      })
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
  ): Promise<{ user: UserRecord | undefined; changed: boolean }> {
    const table = await this.table.client();
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = await this.getUserById(tenantId, userId, table);
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
        return { user: { ...next, etag }, changed: true };
      } catch (err) {
        if (isConflict(err) || isPreconditionFailed(err)) continue;
        throw err;
      }
    }
    throw new Error(`Too much contention updating user record ${userRow(userId)}`);
  }

  /** Creates or refreshes a user's addressing data from an activity or a roster page. */
  async saveUser(
    tenantId: string,
    profile: UserProfile,
    options: { source?: string; conversationId?: string; reactivate?: boolean } = {},
  ): Promise<UserRecord> {
    const now = new Date().toISOString();
    const { user } = await this.updateUser(tenantId, profile.userId, (current) => {
      const sources = new Set(current?.sources ?? []);
      if (options.source) sources.add(options.source);
      const next: Omit<UserRecord, 'etag'> = {
        tenantId,
        capCount: 0,
        optedOut: false,
        ...current,
        userId: profile.userId,
        aadObjectId: profile.aadObjectId ?? current?.aadObjectId,
        upn: profile.upn?.toLowerCase() ?? current?.upn,
        name: profile.name ?? current?.name,
        serviceUrl: profile.serviceUrl || current?.serviceUrl || '',
        conversationId: options.conversationId ?? current?.conversationId,
        sources: [...sources].sort(),
        inactiveReason: options.reactivate ? undefined : current?.inactiveReason,
        updatedAt: now,
      };
      if (current && sameUser(current, next)) return undefined;
      return next;
    });
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
      'Replace',
    );
  }

  async getTenant(tenantId: string): Promise<TenantRecord | undefined> {
    const table = await this.table.client();
    const row = await getOrUndefined<Row>(table, partitionOf(tenantId), 'tenant');
    return row
      ? { tenantId: String(row.tenantId), serviceUrl: String(row.serviceUrl), botId: String(row.botId) }
      : undefined;
  }

  /** Merges: a record without `name` (roster sync, uninstall) keeps the stored name. */
  async saveTeam(record: TeamRecord): Promise<void> {
    const table = await this.table.client();
    const { name, ...rest } = record;
    await table.upsertEntity(
      {
        partitionKey: partitionOf(record.tenantId),
        rowKey: teamRow(record.teamId),
        ...rest,
        ...(name !== undefined ? { name } : {}),
        rosterSyncedAt: record.rosterSyncedAt ?? '',
        updatedAt: new Date().toISOString(),
      },
      'Merge',
    );
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
    };
  }

  /** Records that users are members of a team (batched, 100 rows per transaction). */
  async addTeamMembers(tenantId: string, teamId: string, userIds: string[]): Promise<void> {
    const table = await this.table.client();
    const pk = partitionOf(tenantId);
    for (let i = 0; i < userIds.length; i += 100) {
      const actions: TransactionAction[] = userIds
        .slice(i, i + 100)
        .map((userId) => [
          'upsert',
          { partitionKey: pk, rowKey: memberPrefix(teamId) + keyPart(userId), userId, teamId },
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
        if ((err as { statusCode?: number }).statusCode !== 404) throw err;
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

function sameUser(a: Omit<UserRecord, 'etag'>, b: Omit<UserRecord, 'etag'>): boolean {
  const fields = ['aadObjectId', 'upn', 'name', 'serviceUrl', 'conversationId', 'inactiveReason'] as const;
  return fields.every((f) => (a[f] ?? '') === (b[f] ?? '')) && a.sources.join() === b.sources.join();
}
