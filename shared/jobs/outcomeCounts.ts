import { createHash } from 'node:crypto';
import type { DeliveryRecord } from '../stores/deliveryRecords.js';

/**
 * What one delivery record adds to its job's totals, and how a write changes them. A job's status
 * sums `countsOf` over its records; an audience job keeps the sum in counter rows instead, each
 * record write adding `countDelta(before, after)` in the same transaction as the record itself.
 * read/acknowledged/updated overlap with `sent` and `recalled`; `updated` is a copy showing a later
 * revision than the first, `changeFailed` a copy whose latest update or recall failed.
 */

export const COUNT_KINDS = [
  'sent',
  'failed',
  'skipped',
  'recalled',
  'cancelled',
  'read',
  'acknowledged',
  'updated',
  'changeFailed',
] as const;
export type CountKind = (typeof COUNT_KINDS)[number];
export type Counts = Record<CountKind, number>;

/** The outcomes that end a delivery: the job's `pending` is what it queued minus these. */
export const FINAL_KINDS = ['sent', 'failed', 'skipped', 'recalled', 'cancelled'] as const;

type Countable = Pick<DeliveryRecord, 'status' | 'readAt' | 'acknowledgedAt' | 'revisedAt' | 'changeFailure'>;

export const emptyCounts = (): Counts => Object.fromEntries(COUNT_KINDS.map((k) => [k, 0])) as Counts;

export function countsOf(r: Countable | undefined): Counts {
  const c = emptyCounts();
  if (!r) return c;
  if ((FINAL_KINDS as readonly string[]).includes(r.status)) c[r.status as CountKind] = 1;
  if (r.readAt) c.read = 1;
  if (r.acknowledgedAt) c.acknowledged = 1;
  if (r.revisedAt) c.updated = 1;
  if (r.changeFailure) c.changeFailed = 1;
  return c;
}

export function addCounts(total: Counts, more: Partial<Counts>): Counts {
  for (const k of COUNT_KINDS) total[k] += more[k] ?? 0;
  return total;
}

/** The kinds a write changes (+1 or -1 each), or undefined when the totals stay as they are. */
export function countDelta(
  before: Countable | undefined,
  after: Countable | undefined,
): Partial<Counts> | undefined {
  const a = countsOf(after);
  const b = countsOf(before);
  const delta: Partial<Counts> = {};
  for (const k of COUNT_KINDS) if (a[k] !== b[k]) delta[k] = a[k] - b[k];
  return Object.keys(delta).length ? delta : undefined;
}

/** The record after a merge of `fields` ('' and null clear a field, undefined leaves it). */
export function merged<T extends object>(before: T | undefined, fields: Partial<T>): T {
  const out: Record<string, unknown> = { ...before };
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    out[k] = v === '' || v === null ? undefined : v;
  }
  return out as T;
}

/**
 * Counter rows per job: a recipient always counts on the same one, so writes rarely contend (a
 * conflict retries the whole transaction). 64 rather than 16 made an audience job's deliveries about
 * 25 % faster at 250 sends/s on Azurite (back-to-back runs); a status read sums them in one range read.
 */
export const COUNTER_SHARDS = 64;

export const counterShard = (recipient: string) =>
  createHash('sha1').update(recipient).digest().readUInt16BE(0) % COUNTER_SHARDS;
