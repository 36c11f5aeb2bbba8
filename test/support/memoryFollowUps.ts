import { merged } from '../../shared/jobs/outcomeCounts.js';
import { isReadBy, readRange } from '../../shared/followUps/readReceipts.js';
import type { NotificationMessage } from '../../shared/jobs/contract.js';
import type { DeliveryRecord, FollowUpFields } from '../../shared/stores/deliveryRecords.js';
import type { FollowUpStore } from '../../shared/stores/followUps.js';
import { recallField, sendsStopped } from '../../shared/stores/jobContent.js';
import type * as Content from '../../shared/stores/jobContent.js';
import type { MemoryDeliveryRecordStore } from './memoryStores.js';

/**
 * In-memory twins of the follow-up ports (stores/jobContent.ts, stores/followUps.ts), keeping the
 * Table adapters' contracts: versioned rows, writes guarded by the version read, first-time marks.
 */

let version = 0;
const nextEtag = () => `W/"fu${++version}"`;

export class MemoryJobContentStore implements Content.JobContentStore {
  readonly rows = new Map<string, Content.JobContent>();

  /** Rows by tenant and job ID, as the Table adapter's partitions. */
  private key = (tenantId: string, jobId: string) => `${tenantId.toLowerCase()}|${jobId}`;

  async get(tenantId: string, jobId: string) {
    const row = this.rows.get(this.key(tenantId, jobId));
    return row && structuredClone(row);
  }

  async ensure(content: Content.NewJobContent) {
    const key = this.key(content.tenantId, content.jobId);
    if (!this.rows.has(key)) this.rows.set(key, { ...content, revision: 0, etag: nextEtag() });
  }

  async revise(current: Content.JobContent, message: NotificationMessage): Promise<Content.ContentChange> {
    if (sendsStopped(current)) return { ok: false, reason: 'Recalled' };
    return this.write(current, {
      revision: current.revision + 1,
      message,
      revisedAt: new Date().toISOString(),
    });
  }

  async recall(current: Content.JobContent, stage: Content.RecallStage): Promise<Content.ContentChange> {
    const field = recallField[stage];
    if (current[field]) return { ok: true, content: current };
    return this.write(current, { [field]: new Date().toISOString() });
  }

  readonly fanOuts = new Map<string, Content.FanOut>();

  async fanOut(tenantId: string, jobId: string) {
    const state = this.fanOuts.get(this.key(tenantId, jobId));
    return state && structuredClone(state);
  }

  async saveFanOut(tenantId: string, jobId: string, state: Content.FanOut, etag?: string) {
    const key = this.key(tenantId, jobId);
    if (etag && this.fanOuts.get(key)?.etag !== etag) return undefined;
    const next = { ...structuredClone(state), etag: nextEtag() };
    this.fanOuts.set(key, next);
    return next.etag;
  }

  private write(current: Content.JobContent, fields: Partial<Content.JobContent>): Content.ContentChange {
    const key = this.key(current.tenantId, current.jobId);
    const stored = this.rows.get(key);
    if (!stored) return { ok: false, reason: 'NotFound' };
    if (stored.etag !== current.etag) return { ok: false, reason: 'Conflict' };
    const next = { ...stored, ...fields, etag: nextEtag() };
    this.rows.set(key, next);
    return { ok: true, content: structuredClone(next) };
  }
}

export class MemoryFollowUpStore implements FollowUpStore {
  /** tenant|conversation → watermark (the sent messages are indexed by the record store). */
  readonly marks = new Map<string, string>();

  constructor(private readonly records: MemoryDeliveryRecordStore) {}

  async write(tenantId: string, record: DeliveryRecord, fields: FollowUpFields & { status?: 'recalled' }) {
    const key = this.records.key(tenantId, record.jobId, record.recipient);
    const current = this.records.records.get(key);
    if (!current || current.etag !== record.etag) return undefined;
    const next = {
      ...merged<DeliveryRecord>(current, fields as Partial<DeliveryRecord>),
      updatedAt: new Date().toISOString(),
      etag: nextEtag(),
    };
    this.records.put(tenantId, current, next);
    return { ...next };
  }

  async findSent(tenantId: string, conversationId: string, activityId: string) {
    return this.records.sentByChat
      .get(`${tenantId}|${conversationId}`)
      ?.find((r) => r.activityId === activityId);
  }

  async listNewlyRead(tenantId: string, conversationId: string, lastReadMessageId: string) {
    const key = `${tenantId}|${conversationId}`;
    const previous = this.marks.get(key);
    if (!readRange(lastReadMessageId, previous)) return [];
    return (this.records.sentByChat.get(key) ?? []).filter(
      (r) => isReadBy(r.activityId, lastReadMessageId) && !(previous && isReadBy(r.activityId, previous)),
    );
  }

  async setReadMark(tenantId: string, conversationId: string, lastReadMessageId: string) {
    const key = `${tenantId}|${conversationId}`;
    if (/^\d+$/.test(lastReadMessageId) && readRange(lastReadMessageId, this.marks.get(key))) {
      this.marks.set(key, lastReadMessageId);
    }
  }
}
