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
  recalledAt?: string | undefined;
  etag: string;
}

export type NewJobContent = Omit<JobContent, 'revision' | 'etag' | 'revisedAt' | 'recalledAt'>;

export type ContentChange =
  { ok: true; content: JobContent } | { ok: false; reason: 'NotFound' | 'Recalled' | 'Conflict' };

export interface JobContentStore {
  get(jobId: string): Promise<JobContent | undefined>;
  /** Records revision 0 once; an existing row is left as it is. */
  ensure(content: NewJobContent): Promise<void>;
  /** The next revision, guarded by the etag read; refused once recalled. */
  revise(current: JobContent, message: NotificationMessage): Promise<ContentChange>;
  /** Marks the job recalled (idempotent: a second recall returns the first). */
  recall(current: JobContent): Promise<ContentChange>;
}
