import type { ConversationStore, UserRecord } from '../stores/conversations.js';
import type { NotificationJob } from './contract.js';
import { recipientKeyString } from './recipient.js';

/** Jobs naming at least this many recipients get user snapshots; a page of 1,000 users per 250 recipients at most. */
const SNAPSHOT_MIN_RECIPIENTS = 50;
const SNAPSHOT_ROWS_PER_RECIPIENT = 4;

/**
 * For a big job, the tenant's user records by every key a job may name them with, read in pages of
 * 1,000 (bounded by the job's size): each task then carries its recipient's record, which the
 * delivery uses instead of a point read and confirms by the claim's ETag check. Best effort.
 */
export async function userSnapshots(
  users: Pick<ConversationStore, 'listUsers'> | undefined,
  job: NotificationJob,
): Promise<Map<string, UserRecord>> {
  const byKey = new Map<string, UserRecord>();
  if (!users || job.recipients.length < SNAPSHOT_MIN_RECIPIENTS) return byKey;
  try {
    const rows = await users.listUsers(job.tenantId, job.recipients.length * SNAPSHOT_ROWS_PER_RECIPIENT);
    for (const u of rows) {
      byKey.set(recipientKeyString({ kind: 'userId', value: u.userId }), u);
      if (u.aadObjectId) byKey.set(recipientKeyString({ kind: 'aadObjectId', value: u.aadObjectId }), u);
      if (u.upn) byKey.set(recipientKeyString({ kind: 'upn', value: u.upn }), u);
    }
  } catch {
    // Without snapshots each delivery reads its user itself.
  }
  return byKey;
}
