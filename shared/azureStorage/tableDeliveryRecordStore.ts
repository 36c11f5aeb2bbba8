import type { TransactionAction } from '@azure/data-tables';
import { countDelivery } from '../stores/conversations.js';
import {
  claimCounts,
  claimFields,
  TERMINAL,
  type ClaimRequest,
  type ClaimResult,
  type DeliveryOutcome,
  type DeliveryRecord,
  type DeliveryRecordStore,
  type DeliveryStatus,
  type PendingOutcome,
} from '../stores/deliveryRecords.js';
import {
  clean,
  deliveryRow,
  deliveryRowPrefix,
  partitionOf,
  personRow,
  toDeliveryRecord,
  userEntity,
  type Row,
} from './conversationRows.js';
import { writeDeliveryRow } from './countedWrite.js';
import { chatIndexRows } from './followUpRows.js';
import {
  getOrUndefined,
  isConflict,
  isNotFound,
  isPreconditionFailed,
  isTransient,
  listByPrefix,
  pageByPrefix,
  type LazyTable,
} from './table.js';

/** Delivery records on Table Storage: rows `dlv|<jobId>|<recipient>` of the Conversations table. */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class TableDeliveryRecordStore implements DeliveryRecordStore {
  constructor(private readonly table: LazyTable) {}

  async get(tenantId: string, jobId: string, recipient: string): Promise<DeliveryRecord | undefined> {
    const table = await this.table.client();
    const row = await getOrUndefined<Row>(table, partitionOf(tenantId), deliveryRow(jobId, recipient));
    return row ? toDeliveryRecord(row) : undefined;
  }

  /**
   * Claims a delivery and (its first claim) counts it against the recipient's hourly cap in one
   * transaction: it fails if the delivery row already exists (or changed since `existing` was read),
   * or if the user record changed since it was read (an opt-out, a new conversation, another delivery).
   */
  async claim(args: ClaimRequest): Promise<ClaimResult> {
    const table = await this.table.client();
    const now = new Date().toISOString();
    const pk = partitionOf(args.tenantId);
    const row = {
      partitionKey: pk,
      rowKey: deliveryRow(args.jobId, args.recipient),
      ...claimFields(args, now),
    };
    const { etag: userEtag, ...user } = args.user;
    const counted = claimCounts(args) ? countDelivery(user, args.capHour) : user;
    const actions: TransactionAction[] = [
      args.existing ? ['update', row, 'Merge', { etag: args.existing.etag }] : ['create', row],
      ['update', userEntity(counted), 'Replace', { etag: userEtag }],
    ];
    // The first claim of a delivery also claims its person for the job (a retry already holds it).
    const person = {
      partitionKey: pk,
      rowKey: personRow(args.jobId, user.userId),
      recipient: args.recipient,
    };
    if (!args.existing) actions.push(['create', person]);
    try {
      const result = await table.submitTransaction(actions);
      const deliveryEtag = result.subResponses[0]?.etag ?? '';
      return {
        kind: 'claimed',
        delivery: { ...toDeliveryRecord(row), etag: deliveryEtag },
        userEtag: result.subResponses[1]?.etag ?? '',
      };
    } catch (err) {
      if (!isConflict(err) && !isPreconditionFailed(err)) throw err;
      // Either row may be the one that moved; read the delivery to tell which.
      const current = await this.get(args.tenantId, args.jobId, args.recipient);
      if (current && (!args.existing || current.etag !== args.existing.etag)) {
        return { kind: 'delivery-exists', delivery: current };
      }
      if (!args.existing) {
        const first = await getOrUndefined<Row>(table, pk, person.rowKey);
        if (first && first.recipient !== args.recipient) {
          return { kind: 'same-person', recipient: String(first.recipient) };
        }
      }
      return { kind: 'user-changed' };
    }
  }

  async renew(tenantId: string, claimed: DeliveryRecord): Promise<DeliveryRecord | undefined> {
    const table = await this.table.client();
    const now = new Date().toISOString();
    const entity = {
      partitionKey: partitionOf(tenantId),
      rowKey: deliveryRow(claimed.jobId, claimed.recipient),
      claimedAt: now,
      updatedAt: now,
    };
    try {
      const done = await table.updateEntity(entity, 'Merge', { etag: claimed.etag });
      return { ...claimed, claimedAt: now, updatedAt: now, etag: done.etag ?? '' };
    } catch (err) {
      if (isPreconditionFailed(err) || isNotFound(err)) return undefined;
      throw err;
    }
  }

  async complete(
    tenantId: string,
    claimed: DeliveryRecord,
    outcome: DeliveryOutcome | PendingOutcome,
    options: { waitOutOutageMs?: number } = {},
  ): Promise<boolean> {
    // After Teams accepted a message this write is all that stops a retry from sending it again, so
    // the caller may ask to wait out a storage outage (or restart) rather than fail.
    const deadline = Date.now() + (options.waitOutOutageMs ?? 0);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.completeOnce(tenantId, claimed, outcome);
      } catch (err) {
        if (!isTransient(err) || Date.now() >= deadline) throw err;
        await sleep(Math.min(5000, 500 * 2 ** attempt, Math.max(0, deadline - Date.now())));
      }
    }
  }

  private async completeOnce(
    tenantId: string,
    claimed: DeliveryRecord,
    outcome: DeliveryOutcome | PendingOutcome,
  ): Promise<boolean> {
    const table = await this.table.client();
    const now = new Date().toISOString();
    const terminal = TERMINAL.has(outcome.status);
    const entity = clean({
      partitionKey: partitionOf(tenantId),
      rowKey: deliveryRow(claimed.jobId, claimed.recipient),
      ...outcome,
      requeued: outcome.status === 'pending' ? 'requeued' in outcome && !!outcome.requeued : undefined,
      claimToken: terminal ? '' : claimed.claimToken,
      completedAt: terminal ? now : undefined,
      updatedAt: now,
    });
    const etag = await writeDeliveryRow(table, {
      entity,
      etag: claimed.etag,
      record: claimed,
      before: claimed,
      after: { ...claimed, ...outcome },
      // A sent message is indexed by its chat in the same transaction (read receipts, card presses).
      also: chatIndexRows(entity.partitionKey, claimed, outcome),
    });
    return etag !== undefined;
  }

  async recordIfUnchanged(
    tenantId: string,
    jobId: string,
    recipient: string,
    outcome: DeliveryOutcome,
    existing: DeliveryRecord | undefined,
    options: { counted?: boolean | undefined } = {},
  ): Promise<boolean> {
    const table = await this.table.client();
    const counted = options.counted || existing?.counted;
    const now = new Date().toISOString();
    const entity = clean({
      partitionKey: partitionOf(tenantId),
      rowKey: deliveryRow(jobId, recipient),
      jobId,
      recipient,
      attempts: existing?.attempts ?? 0,
      ...outcome,
      claimToken: '',
      ...(counted ? { counted: true } : {}),
      completedAt: now,
      updatedAt: now,
    });
    const etag = await writeDeliveryRow(table, {
      entity,
      etag: existing?.etag,
      record: { jobId, recipient, counted },
      before: existing,
      after: outcome,
      also: chatIndexRows(entity.partitionKey, { jobId, recipient }, outcome),
    });
    return etag !== undefined;
  }

  /** All delivery records of a job: a RowKey range inside the tenant's partition. */
  async listForJob(tenantId: string, jobId: string): Promise<DeliveryRecord[]> {
    const table = await this.table.client();
    const rows = await listByPrefix<Row>(table, partitionOf(tenantId), deliveryRowPrefix(jobId));
    return rows.map(toDeliveryRecord);
  }

  async pageForJob(
    tenantId: string,
    jobId: string,
    page: { status?: DeliveryStatus | undefined; token?: string | undefined; size: number },
  ): Promise<{ records: DeliveryRecord[]; token?: string | undefined }> {
    const table = await this.table.client();
    const extra =
      page.status === 'pending'
        ? "(status eq 'pending' or status eq 'sending')"
        : page.status
          ? `status eq '${page.status}'`
          : undefined;
    const read = await pageByPrefix<Row>(table, {
      partitionKey: partitionOf(tenantId),
      prefix: deliveryRowPrefix(jobId),
      size: page.size,
      token: page.token,
      ...(extra ? { extra } : {}),
    });
    return { records: read.rows.map(toDeliveryRecord), token: read.token };
  }
}
