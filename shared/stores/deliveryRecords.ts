import type { UserRecord } from './conversations.js';
import type { Lane } from '../delivery/lanes.js';

/**
 * The delivery record store port: one record per (job, recipient), the exactly-once guard. A delivery
 * is claimed (status `sending`) before the connector call and completed (`sent`, `failed`, `skipped`)
 * after it, every write guarded by the record's version. The Table Storage adapter is
 * azureStorage/tableDeliveryRecordStore.ts.
 */

/** `recalled` (a sent copy deleted) and `cancelled` (never sent: the job was recalled) end a delivery too. */
export type DeliveryStatus = 'pending' | 'sending' | 'sent' | 'failed' | 'skipped' | 'recalled' | 'cancelled';
export const TERMINAL: ReadonlySet<DeliveryStatus> = new Set([
  'sent',
  'failed',
  'skipped',
  'recalled',
  'cancelled',
]);

export interface DeliveryRecord extends FollowUpFields {
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
  /** An audience job's record: each write also counts what it changed on the job's counters. */
  counted?: boolean | undefined;
  /**
   * The hour (`YYYY-MM-DDTHH`, UTC) whose recipient hourly cap counts this delivery, set by its first
   * claim: later claims (take-overs after a reschedule, retries) do not count it again.
   */
  capHour?: string | undefined;
  /** A `pending` delivery that went back to the queue as a message of its own (a reschedule). */
  requeued?: boolean | undefined;
  /** The lane it ran in (delivery/lanes.ts), written with its outcome. */
  lane?: Lane | undefined;
  /** From the job's acceptance (or its notBefore) to Teams' answer, when Teams answered (ms). */
  waitMs?: number | undefined;
}

/** After the send (stores/followUps.ts): what happened to the sent copy since. */
export interface FollowUpFields {
  /** The job content revision the chat shows (0: as accepted). */
  revision?: number | undefined;
  revisedAt?: string | undefined;
  recalledAt?: string | undefined;
  readAt?: string | undefined;
  acknowledgedAt?: string | undefined;
  /** The last update or recall that failed for this copy, and why. */
  changeFailure?:
    { op: string; revision: number; reason: string; detail?: string; at: string } | null | undefined;
  /** `<token>|<at>|<op>:<revision>` while an update or recall of this copy is in flight. */
  changeClaim?: string | undefined;
}

export type DeliveryOutcome = Pick<
  DeliveryRecord,
  | 'status'
  | 'reason'
  | 'detail'
  | 'userId'
  | 'conversationId'
  | 'activityId'
  | 'firstContact'
  | 'revision'
  | 'lane'
  | 'waitMs'
>;

/**
 * A claimed delivery handed back to the queue: it stays claimed by the same token. `requeued`: it went
 * back as a message of its own (a reschedule), which now owns it; otherwise its own message is retried.
 */
export type PendingOutcome = { status: 'pending'; reason?: string; detail?: string; requeued?: boolean };

export type ClaimResult =
  | { kind: 'claimed'; delivery: DeliveryRecord; userEtag: string }
  | { kind: 'delivery-exists'; delivery: DeliveryRecord }
  /** The job names this person twice: the delivery of `recipient`, another key, claimed them first. */
  | { kind: 'same-person'; recipient: string }
  | { kind: 'user-changed' };

export interface ClaimRequest {
  tenantId: string;
  jobId: string;
  recipient: string;
  claimToken: string;
  user: UserRecord;
  capHour: string;
  existing?: DeliveryRecord | undefined;
  /** An audience job's delivery (see DeliveryRecord.counted). */
  counted?: boolean | undefined;
}

/** The fields a claim writes: `sending`, by this claim token, one more attempt, counted in an hour once. */
export function claimFields(request: ClaimRequest, now: string) {
  return {
    jobId: request.jobId,
    recipient: request.recipient,
    status: 'sending' as const,
    userId: request.user.userId,
    attempts: (request.existing?.attempts ?? 0) + 1,
    claimToken: request.claimToken,
    claimedAt: now,
    updatedAt: now,
    capHour: request.existing?.capHour ?? request.capHour,
    requeued: false,
    ...(request.counted ? { counted: true } : {}),
  };
}

/** Whether a claim counts the delivery against the recipient's hourly cap: only its first claim does. */
export const claimCounts = (request: Pick<ClaimRequest, 'existing'>) => !request.existing?.capHour;

export interface DeliveryRecordStore {
  get(tenantId: string, jobId: string, recipient: string): Promise<DeliveryRecord | undefined>;
  /**
   * Claims a delivery and counts it against the recipient's hourly cap (its first claim only), both
   * or neither: fails if the record exists (or changed since `existing` was read), or if the user
   * changed since it was read. A first claim also claims the person for the job (one per Teams user
   * and job), so two keys of a job that name the same person (`upn:` and `userId:`) send once: the
   * second finds `same-person`.
   */
  claim(request: ClaimRequest): Promise<ClaimResult>;
  /**
   * Re-checks a claim just before a Teams call, and renews its lease: writes `claimedAt` if the record
   * is still as `claimed` (ETag). The renewed record, or undefined when someone else changed it.
   */
  renew(tenantId: string, claimed: DeliveryRecord): Promise<DeliveryRecord | undefined>;
  /**
   * Finishes a claimed delivery; false if someone else changed the record since (it is then theirs).
   * A counted record's outcome is counted in the same write.
   * `waitOutOutageMs`: how long to keep retrying while storage is unreachable.
   */
  complete(
    tenantId: string,
    claimed: DeliveryRecord,
    outcome: DeliveryOutcome | PendingOutcome,
    options?: { waitOutOutageMs?: number },
  ): Promise<boolean>;
  /**
   * Records a final outcome over the record as read (`existing`; undefined: only where there is none
   * yet), for a delivery nobody holds a claim on; false when the record moved meanwhile.
   * `counted`: an audience job's delivery (the outcome is counted with the record).
   */
  recordIfUnchanged(
    tenantId: string,
    jobId: string,
    recipient: string,
    outcome: DeliveryOutcome,
    existing: DeliveryRecord | undefined,
    options?: { counted?: boolean | undefined },
  ): Promise<boolean>;
  listForJob(tenantId: string, jobId: string): Promise<DeliveryRecord[]>;
  /** One page of a job's records, optionally of one status (`pending` includes `sending`). */
  pageForJob(
    tenantId: string,
    jobId: string,
    page: { status?: DeliveryStatus | undefined; token?: string | undefined; size: number },
  ): Promise<{ records: DeliveryRecord[]; token?: string | undefined }>;
}

type UnclaimedWrites = Pick<DeliveryRecordStore, 'get' | 'recordIfUnchanged'>;

/**
 * Writes an outcome for a delivery nobody holds a claim on, unless the record there `stands`; reads
 * again when another write came in between. The record that stands and whether this write made it, or
 * undefined after 5 rounds of contention.
 */
export async function recordUnlessStands(
  records: UnclaimedWrites,
  key: { tenantId: string; jobId: string; recipient: string },
  outcome: DeliveryOutcome,
  o: { stands: (record: DeliveryRecord) => boolean; counted?: boolean | undefined },
): Promise<{ record: DeliveryRecord | undefined; written: boolean } | undefined> {
  const { tenantId, jobId, recipient } = key;
  for (let round = 0; round < 5; round++) {
    const current = await records.get(tenantId, jobId, recipient);
    if (current && o.stands(current)) return { record: current, written: false };
    if (
      await records.recordIfUnchanged(tenantId, jobId, recipient, outcome, current, { counted: o.counted })
    ) {
      return { record: await records.get(tenantId, jobId, recipient), written: true };
    }
  }
  return undefined;
}

/** Records an outcome without a claim; never overwrites a final record; returns the one that stands. */
export async function recordWithoutClaim(
  records: UnclaimedWrites,
  tenantId: string,
  jobId: string,
  recipient: string,
  outcome: DeliveryOutcome,
  options: { counted?: boolean | undefined } = {},
): Promise<DeliveryRecord> {
  const result = await recordUnlessStands(records, { tenantId, jobId, recipient }, outcome, {
    stands: (record) => TERMINAL.has(record.status),
    counted: options.counted,
  });
  if (!result?.record) throw new Error(`Too much contention recording delivery ${jobId}|${recipient}`);
  return result.record;
}
