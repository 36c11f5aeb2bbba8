import type { JobRef } from '../stores/jobs.js';
import type { CallbackEvent } from './event.js';

/** A job's callback as its status shows it: where it went, how often, and how it ended. */
export interface CallbackRecord {
  event: CallbackEvent;
  url: string;
  /** `sending` (first attempt under way), `retrying` (waiting for the next), `delivered` or `failed`. */
  state: 'sending' | 'retrying' | 'delivered' | 'failed';
  attempts: number;
  lastStatus?: number | undefined;
  lastError?: string | undefined;
  nextAttemptAt?: string | undefined;
  deliveredAt?: string | undefined;
  updatedAt: string;
}

/**
 * One row per job and event in the job's own partition of the `Jobs` table (azureStorage/
 * tableCallbackStore.ts). Its conditional insert makes each event go out once across instances: the
 * first queue message to insert it owns the event (its token), every other copy finds it taken.
 */
export interface CallbackStore {
  /** The record when `token` owns the event (inserting it if nobody does), undefined when another does. */
  claim(ref: JobRef, event: CallbackEvent, token: string, url: string): Promise<CallbackRecord | undefined>;
  save(ref: JobRef, event: CallbackEvent, fields: Partial<CallbackRecord>): Promise<void>;
  list(ref: JobRef): Promise<CallbackRecord[]>;
}
