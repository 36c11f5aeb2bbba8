import type { TeamRecord, UserRecord } from '../stores/conversations.js';
import type { DeliveryRecord, DeliveryStatus } from '../stores/deliveryRecords.js';
import { toFollowUpFields } from './followUpRows.js';
import { keyPart } from './table.js';
import { isLane } from '../delivery/lanes.js';

/**
 * The rows of the Conversations table, one partition per tenant; this module alone knows their keys
 * and columns (the two stores that share the table write through it):
 *   user|<teamsUserId>        the canonical user record                  (conversation store)
 *   aad|<aadObjectId>         alias → userId                              (conversation store)
 *   upn|<upn>                 alias → userId                              (conversation store)
 *   tenant                    the tenant's last service URL and bot ID    (conversation store)
 *   team|<teamId>             a team the bot was installed in             (conversation store)
 *   member|<teamId>|<userId>  roster membership, so an uninstall can find the team's users
 *   dlv|<jobId>|<recipient>   a delivery record                           (delivery record store)
 *   person|<jobId>|<userId>   the job's one delivery to this person       (delivery record store)
 *   chat|<conversationId>|<n> a sent message, by chat and activity ID     (follow-up store, followUpRows.ts)
 *   readmark|<conversationId> a chat's last read receipt watermark       (follow-up store)
 *   count|<jobId>|<shard>     an audience job's totals                    (countedWrite.ts)
 *   install|<aadObjectId>     the app installed itself for this user      (install marks, tableInstallMarks.ts)
 *   gm|<jobId>|<n>|<oid>      a job's n-th group holds this person         (group rows, tableGroupRows.ts)
 * Delivery records share the recipient's partition so a claim and the recipient's hourly counter
 * commit in one entity-group transaction.
 */

export type Row = Record<string, unknown> & { etag?: string };

/** A tenant's partition: its ID in lower case (a GUID: encoding leaves it as it is). */
export const partitionOf = (tenantId: string) => keyPart(tenantId.toLowerCase());
export const userRow = (userId: string) => `user|${keyPart(userId)}`;
export const aliasRow = (kind: 'aad' | 'upn', value: string) => `${kind}|${keyPart(value.toLowerCase())}`;
export const teamRow = (teamId: string) => `team|${keyPart(teamId)}`;
export const memberPrefix = (teamId: string) => `member|${keyPart(teamId)}|`;
export const deliveryRowPrefix = (jobId: string) => `dlv|${keyPart(jobId)}|`;
export const deliveryRow = (jobId: string, recipient: string) =>
  deliveryRowPrefix(jobId) + keyPart(recipient);
/** The app installed itself for this user through Microsoft Graph (stores/installMarks.ts). */
export const installRow = (aadObjectId: string) => `install|${keyPart(aadObjectId.toLowerCase())}`;
/** A member of a job's `index`-th group audience, kept only while a later group must be de-duplicated against it. */
export const groupMemberRow = (jobId: string, index: number, aadObjectId: string) =>
  `gm|${keyPart(jobId)}|${index}|${keyPart(aadObjectId.toLowerCase())}`;
/** A job's claim on one person: which of its recipient keys reached this Teams user first. */
export const personRow = (jobId: string, userId: string) => `person|${keyPart(jobId)}|${keyPart(userId)}`;

export function toUser(tenantId: string, row: Row): UserRecord {
  return {
    tenantId,
    userId: String(row.userId),
    aadObjectId: (row.aadObjectId as string) || undefined,
    upn: (row.upn as string) || undefined,
    name: (row.name as string) || undefined,
    serviceUrl: String(row.serviceUrl ?? ''),
    conversationId: (row.conversationId as string) || undefined,
    sources: row.sources ? (JSON.parse(String(row.sources)) as string[]) : [],
    inactiveReason: (row.inactiveReason as string) || undefined,
    optedOut: row.optedOut === true,
    welcomedAt: (row.welcomedAt as string) || undefined,
    capHour: (row.capHour as string) || undefined,
    capCount: typeof row.capCount === 'number' ? row.capCount : 0,
    chatNextAt: typeof row.chatNextAt === 'number' && row.chatNextAt > 0 ? row.chatNextAt : undefined,
    updatedAt: String(row.updatedAt ?? ''),
    etag: String(row.etag ?? ''),
  };
}

export function userEntity(user: Omit<UserRecord, 'etag'>) {
  return {
    partitionKey: partitionOf(user.tenantId),
    rowKey: userRow(user.userId),
    userId: user.userId,
    aadObjectId: user.aadObjectId ?? '',
    upn: user.upn?.toLowerCase() ?? '',
    name: user.name ?? '',
    serviceUrl: user.serviceUrl,
    conversationId: user.conversationId ?? '',
    sources: JSON.stringify(user.sources),
    inactiveReason: user.inactiveReason ?? '',
    active: !user.inactiveReason,
    optedOut: user.optedOut,
    welcomedAt: user.welcomedAt ?? '',
    capHour: user.capHour ?? '',
    capCount: user.capCount,
    chatNextAt: user.chatNextAt ?? 0,
    updatedAt: user.updatedAt,
  };
}

/** A team row; fields left undefined keep what is stored (a merge), `name` included. */
export function teamEntity(record: TeamRecord) {
  const { name, rosterSync, etag: _etag, ...rest } = record;
  return {
    partitionKey: partitionOf(record.tenantId),
    rowKey: teamRow(record.teamId),
    ...rest,
    ...(name !== undefined ? { name } : {}),
    rosterSyncedAt: record.rosterSyncedAt ?? '',
    ...(rosterSync ? { rosterSync: JSON.stringify(rosterSync) } : {}),
    updatedAt: new Date().toISOString(),
  };
}

export function toDeliveryRecord(row: Row): DeliveryRecord {
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
    ...(row.counted === true ? { counted: true } : {}),
    capHour: opt('capHour'),
    ...(row.requeued === true ? { requeued: true } : {}),
    ...(isLane(row.lane) ? { lane: row.lane } : {}),
    ...(typeof row.waitMs === 'number' ? { waitMs: row.waitMs } : {}),
    ...toFollowUpFields(row),
  };
}

type Fields = Record<string, string | number | boolean> & { partitionKey: string; rowKey: string };

/** Drops undefined fields, which the Tables SDK would otherwise reject. */
export function clean(fields: Record<string, unknown> & { partitionKey: string; rowKey: string }): Fields {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v as string | number | boolean;
  return out as Fields;
}
