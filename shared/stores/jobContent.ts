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

export type ContentChange =
  { ok: true; content: JobContent } | { ok: false; reason: 'NotFound' | 'Recalled' | 'Conflict' };

export interface JobContentStore {
  get(jobId: string): Promise<JobContent | undefined>;
  /** Records revision 0 once; an existing row is left as it is. */
  ensure(content: NewJobContent): Promise<void>;
  /** The next revision, guarded by the etag read; refused once a recall is asked for. */
  revise(current: JobContent, message: NotificationMessage): Promise<ContentChange>;
  /**
   * Records a recall's stage (`recallRequestedAt`, then `recalledAt`), guarded by the etag read;
   * idempotent: a stage already recorded is returned as it is.
   */
  recall(current: JobContent, stage: RecallStage): Promise<ContentChange>;
}
