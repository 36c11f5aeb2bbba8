import type { NotificationMessage } from '../jobs/contract.js';

/**
 * What a job's recipients see now: revision 0 is the message as accepted; each update (PATCH) adds a
 * revision; a recall ends it for good. Deliveries read it just before sending (so a delivery not yet
 * sent goes out with the latest content, or not at all after a recall) and the change tasks read it
 * to update or delete what was sent. Table adapter: azureStorage/tableJobContentStore.ts.
 */
export interface JobContent {
  jobId: string;
  tenantId: string;
  revision: number;
  /** The message without the acknowledgement button (deliveredMessage adds it). */
  message: NotificationMessage;
  acknowledgeTitle?: string | undefined;
  revisedAt?: string | undefined;
  /** A recall's first stage: from here on nothing more is sent (requestChange.ts). */
  recallRequestedAt?: string | undefined;
  /** A recall's second stage, once no instance can still start a send: the recall's time. */
  recalledAt?: string | undefined;
  etag: string;
}

export type NewJobContent = Omit<
  JobContent,
  'revision' | 'etag' | 'revisedAt' | 'recallRequestedAt' | 'recalledAt'
>;

/** Nothing more may be sent, nor updated, once a recall is asked for. */
export const sendsStopped = (c: Pick<JobContent, 'recallRequestedAt' | 'recalledAt'>): boolean =>
  !!(c.recallRequestedAt || c.recalledAt);

export type RecallStage = 'requested' | 'effective';
export const recallField = { requested: 'recallRequestedAt', effective: 'recalledAt' } as const;

/**
 * An update's or a recall's fan-out: change tasks queued a page of delivery records at a time by a
 * queued task (followUps/changeFanOut.ts), never inside the request. The checkpoint (`token`,
 * `queued`) lets a redelivered task go on where the last one stopped; a later request replaces it.
 */
export interface FanOut {
  /** The request that started it: a task of an older one stops. */
  id: string;
  op: 'update' | 'recall';
  requestedAt: string;
  /** The delivery records' next page. */
  token?: string | undefined;
  /** Change tasks queued so far. */
  queued: number;
  done: boolean;
  /** Why it stopped before the end (`Poisoned`). */
  failed?: string | undefined;
  etag?: string | undefined;
}

export type ContentChange =
  { ok: true; content: JobContent } | { ok: false; reason: 'NotFound' | 'Recalled' | 'Conflict' };

export interface JobContentStore {
  get(tenantId: string, jobId: string): Promise<JobContent | undefined>;
  /** Records revision 0 once; an existing row is left as it is. */
  ensure(content: NewJobContent): Promise<void>;
  /** The next revision, guarded by the etag read; refused once a recall is asked for. */
  revise(current: JobContent, message: NotificationMessage): Promise<ContentChange>;
  /**
   * Records a recall's stage (`recallRequestedAt`, then `recalledAt`), guarded by the etag read;
   * idempotent: a stage already recorded is returned as it is.
   */
  recall(current: JobContent, stage: RecallStage): Promise<ContentChange>;
  /** The latest update's or recall's fan-out (row `changes`). */
  fanOut(tenantId: string, jobId: string): Promise<FanOut | undefined>;
  /**
   * Saves a fan-out: with `etag`, only over that version (a checkpoint; undefined back when another
   * task moved it); without, as the new one, replacing any other. Returns the new version.
   */
  saveFanOut(tenantId: string, jobId: string, state: FanOut, etag?: string): Promise<string | undefined>;
}
