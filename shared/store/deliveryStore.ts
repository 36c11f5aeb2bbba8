import type { TransactionAction } from '@azure/data-tables';
import {
  getOrUndefined,
  isConflict,
  isPreconditionFailed,
  keyPart,
  listByPrefix,
  type LazyTable,
} from '../storage/table.js';
import { partitionOf, userEntity, type UserRecord } from './conversationStore.js';

/**
 * Delivery records: one row per (job, recipient), RowKey `dlv|<jobId>|<recipient>`, in the tenant's
 * partition of the conversation table. The row is the exactly-once guard: a delivery is claimed
 * (status `sending`) before the connector call and completed (`sent`, `failed`, `skipped`) after it,
 * every write guarded by the row's ETag.
 */

export type DeliveryStatus = 'pending' | 'sending' | 'sent' | 'failed' | 'skipped';
export const TERMINAL: ReadonlySet<DeliveryStatus> = new Set(['sent', 'failed', 'skipped']);

export interface DeliveryRecord {
  jobId: string;
  recipient: string;
  status: DeliveryStatus;
  reason?: string | undefined;
  detail?: string | undefined;
  userId?: string | undefined;
  conversationId?: string | undefined;
  activityId?: string | undefined;
  firstContact?: boolean | undefined;
  attempts: number;
  claimToken?: string | undefined;
  claimedAt?: string | undefined;
  completedAt?: string | undefined;
  updatedAt: string;
  etag: string;
}

export type DeliveryOutcome = Pick<
  DeliveryRecord,
  'status' | 'reason' | 'detail' | 'userId' | 'conversationId' | 'activityId' | 'firstContact'
>;

export const deliveryRowPrefix = (jobId: string) => `dlv|${keyPart(jobId)}|`;
const deliveryRow = (jobId: string, recipient: string) => deliveryRowPrefix(jobId) + keyPart(recipient);

type Row = Record<string, unknown> & { etag?: string };

function toRecord(row: Row): DeliveryRecord {
  const opt = (name: string) => (row[name] as string) || undefined;
  return {
    jobId: String(row.jobId),
    recipient: String(row.recipient),
    status: row.status as DeliveryStatus,
    reason: opt('reason'),
    detail: opt('detail'),
    userId: opt('userId'),
    conversationId: opt('conversationId'),
    activityId: opt('activityId'),
    firstContact: typeof row.firstContact === 'boolean' ? row.firstContact : undefined,
    attempts: Number(row.attempts ?? 0),
    claimToken: opt('claimToken'),
    claimedAt: opt('claimedAt'),
    completedAt: opt('completedAt'),
    updatedAt: String(row.updatedAt ?? ''),
    etag: String(row.etag ?? ''),
  };
}

type Fields = Record<string, string | number | boolean> & { partitionKey: string; rowKey: string };

/** Drops undefined fields, which the Tables SDK would otherwise reject. */
function clean(fields: Record<string, unknown> & { partitionKey: string; rowKey: string }): Fields {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v as string | number | boolean;
  return out as Fields;
}

export type ClaimResult =
  | { kind: 'claimed'; delivery: DeliveryRecord; userEtag: string }
  | { kind: 'delivery-exists'; delivery: DeliveryRecord }
  | { kind: 'user-changed' };

export class DeliveryStore {
  constructor(private readonly table: LazyTable) {}

  async get(tenantId: string, jobId: string, recipient: string): Promise<DeliveryRecord | undefined> {
    const table = await this.table.client();
    const row = await getOrUndefined<Row>(table, partitionOf(tenantId), deliveryRow(jobId, recipient));
    return row ? toRecord(row) : undefined;
  }

  /**
   * Claims a delivery and counts it against the recipient's hourly cap in one transaction:
   * it fails if the delivery row already exists (or changed since `existing` was read), or if the
   * user record changed since it was read (an opt-out, a new conversation, another delivery).
   */
  async claim(args: {
    tenantId: string;
    jobId: string;
    recipient: string;
    claimToken: string;
    user: UserRecord;
    capHour: string;
    existing?: DeliveryRecord | undefined;
  }): Promise<ClaimResult> {
    const table = await this.table.client();
    const now = new Date().toISOString();
    const pk = partitionOf(args.tenantId);
    const row = {
      partitionKey: pk,
      rowKey: deliveryRow(args.jobId, args.recipient),
      jobId: args.jobId,
      recipient: args.recipient,
      status: 'sending',
      userId: args.user.userId,
      attempts: (args.existing?.attempts ?? 0) + 1,
      claimToken: args.claimToken,
      claimedAt: now,
      updatedAt: now,
    };
    const { etag: userEtag, ...user } = args.user;
    const counted = {
      ...user,
      capCount: user.capHour === args.capHour ? user.capCount + 1 : 1,
      capHour: args.capHour,
    };
    const actions: TransactionAction[] = [
      args.existing ? ['update', row, 'Merge', { etag: args.existing.etag }] : ['create', row],
      ['update', userEntity(counted), 'Replace', { etag: userEtag }],
    ];
    try {
      const result = await table.submitTransaction(actions);
      const deliveryEtag = result.subResponses[0]?.etag ?? '';
      return {
        kind: 'claimed',
        delivery: { ...toRecord(row), etag: deliveryEtag },
        userEtag: result.subResponses[1]?.etag ?? '',
      };
    } catch (err) {
      if (!isConflict(err) && !isPreconditionFailed(err)) throw err;
      // Either row may be the one that moved; read the delivery to tell which.
      const current = await this.get(args.tenantId, args.jobId, args.recipient);
      if (current && (!args.existing || current.etag !== args.existing.etag)) {
        return { kind: 'delivery-exists', delivery: current };
      }
      return { kind: 'user-changed' };
    }
  }

  /** Finishes a claimed delivery; false if someone else changed the row since (it is then theirs). */
  async complete(
    tenantId: string,
    claimed: DeliveryRecord,
    outcome: DeliveryOutcome | { status: 'pending'; reason?: string; detail?: string },
  ): Promise<boolean> {
    const table = await this.table.client();
    const now = new Date().toISOString();
    const terminal = TERMINAL.has(outcome.status);
    try {
      await table.updateEntity(
        clean({
          partitionKey: partitionOf(tenantId),
          rowKey: deliveryRow(claimed.jobId, claimed.recipient),
          ...outcome,
          claimToken: terminal ? '' : claimed.claimToken,
          completedAt: terminal ? now : undefined,
          updatedAt: now,
        }),
        'Merge',
        { etag: claimed.etag },
      );
      return true;
    } catch (err) {
      if (isPreconditionFailed(err)) return false;
      throw err;
    }
  }

  /**
   * Records an outcome for a delivery that never reached the connector (skipped, invalid recipient...).
   * Never overwrites a terminal record; returns the record that stands.
   */
  async recordWithoutClaim(
    tenantId: string,
    jobId: string,
    recipient: string,
    outcome: DeliveryOutcome,
  ): Promise<DeliveryRecord> {
    const table = await this.table.client();
    const now = new Date().toISOString();
    const entity = clean({
      partitionKey: partitionOf(tenantId),
      rowKey: deliveryRow(jobId, recipient),
      jobId,
      recipient,
      attempts: 0,
      ...outcome,
      completedAt: now,
      updatedAt: now,
    });
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.get(tenantId, jobId, recipient);
      if (current && TERMINAL.has(current.status)) return current;
      try {
        if (current) {
          await table.updateEntity({ ...entity, attempts: current.attempts }, 'Merge', {
            etag: current.etag,
          });
        } else {
          await table.createEntity(entity);
        }
        return (await this.get(tenantId, jobId, recipient)) as DeliveryRecord;
      } catch (err) {
        if (!isConflict(err) && !isPreconditionFailed(err)) throw err;
      }
    }
    throw new Error(`Too much contention recording delivery ${deliveryRow(jobId, recipient)}`);
  }

  /** All delivery records of a job: a RowKey range inside the tenant's partition. */
  async listForJob(tenantId: string, jobId: string): Promise<DeliveryRecord[]> {
    const table = await this.table.client();
    const rows = await listByPrefix<Row>(table, partitionOf(tenantId), deliveryRowPrefix(jobId));
    return rows.map(toRecord);
  }
}
