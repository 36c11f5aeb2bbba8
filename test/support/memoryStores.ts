import type { ExpansionState } from '../../shared/jobs/audience.js';
import { addCounts, countDelta, emptyCounts, type Counts } from '../../shared/jobs/outcomeCounts.js';
import type { RecipientKey } from '../../shared/jobs/recipient.js';
import type { QueueSender } from '../../shared/queues.js';
import type { SentMessageRef } from '../../shared/stores/followUps.js';
import {
  countDelivery,
  profileChange,
  type ConversationStore,
  type SaveUserOptions,
  type TeamRecord,
  type TenantRecord,
  type UserChange,
  type UserProfile,
  type UserRecord,
} from '../../shared/stores/conversations.js';
import {
  claimCounts,
  claimFields,
  TERMINAL,
  type ClaimRequest,
  type ClaimResult,
  type DeliveryOutcome,
  type DeliveryRecord,
  type DeliveryRecordStore,
  type PendingOutcome,
} from '../../shared/stores/deliveryRecords.js';
import type {
  JobRecord,
  JobStore,
  RejectedJob,
  RejectedJobStore,
  RejectionSummary,
} from '../../shared/stores/jobs.js';

/**
 * In-memory twins of the store ports, for unit tests that need no Azurite. They keep the contracts
 * the Table adapters keep: versioned records (a new etag on every write), guarded updates, and a claim
 * that writes the delivery record and the user's hourly counter together or not at all.
 */

let version = 0;
const nextEtag = () => `W/"${++version}"`;

export class MemoryConversationStore implements ConversationStore {
  readonly users = new Map<string, UserRecord>();
  readonly aliases = new Map<string, string>();
  readonly tenants = new Map<string, TenantRecord>();
  readonly teams = new Map<string, TeamRecord>();
  readonly members = new Map<string, Set<string>>();

  async getUser(tenantId: string, key: RecipientKey): Promise<UserRecord | undefined> {
    const userId =
      key.kind === 'userId'
        ? key.value
        : this.aliases.get(`${tenantId.toLowerCase()}|${key.kind}|${key.value.toLowerCase()}`);
    return userId === undefined ? undefined : this.getUserById(tenantId, userId);
  }

  async getUserById(tenantId: string, userId: string): Promise<UserRecord | undefined> {
    const user = this.users.get(`${tenantId.toLowerCase()}|${userId}`);
    return user && { ...user, sources: [...user.sources] };
  }

  async updateUser(tenantId: string, userId: string, change: UserChange, known?: UserRecord) {
    const stored = await this.getUserById(tenantId, userId);
    // Like the ETag check: a stale `known` record is read again.
    const current = known?.etag && known.etag === stored?.etag ? known : stored;
    const next = change(current);
    if (!next) return { user: current, changed: false };
    const user = this.put(next);
    return { user, changed: true };
  }

  async saveUser(tenantId: string, profile: UserProfile, options: SaveUserOptions = {}): Promise<UserRecord> {
    const change = profileChange(tenantId, profile, options, new Date().toISOString());
    const { user } = await this.updateUser(tenantId, profile.userId, change);
    return user as UserRecord;
  }

  async listUsers(tenantId: string, maxRows: number): Promise<UserRecord[]> {
    const prefix = `${tenantId.toLowerCase()}|`;
    return [...this.users]
      .filter(([k]) => k.startsWith(prefix))
      .slice(0, maxRows)
      .map(([, u]) => ({ ...u, sources: [...u.sources] }));
  }

  /** Stores a user as is (a test's seed, or a claim's counter), with a new etag. */
  put(next: Omit<UserRecord, 'etag'>): UserRecord {
    const pk = next.tenantId.toLowerCase();
    const user = { ...next, upn: next.upn?.toLowerCase(), etag: nextEtag() };
    this.users.set(`${pk}|${next.userId}`, user);
    if (next.aadObjectId)
      this.aliases.set(`${pk}|aadObjectId|${next.aadObjectId.toLowerCase()}`, next.userId);
    if (next.upn) this.aliases.set(`${pk}|upn|${next.upn.toLowerCase()}`, next.userId);
    return user;
  }

  async saveTenant(record: TenantRecord): Promise<void> {
    this.tenants.set(record.tenantId.toLowerCase(), { ...record });
  }

  async getTenant(tenantId: string): Promise<TenantRecord | undefined> {
    return this.tenants.get(tenantId.toLowerCase());
  }

  async saveTeam(record: TeamRecord): Promise<void> {
    const key = `${record.tenantId.toLowerCase()}|${record.teamId}`;
    const stored = this.teams.get(key);
    const name = record.name ?? stored?.name;
    const rosterSync = record.rosterSync ?? stored?.rosterSync;
    this.teams.set(key, { ...record, name, rosterSync, etag: nextEtag() });
  }

  async saveTeamIf(record: TeamRecord, etag: string | undefined): Promise<string | undefined> {
    const stored = this.teams.get(`${record.tenantId.toLowerCase()}|${record.teamId}`);
    if (etag ? stored?.etag !== etag : stored) return undefined;
    await this.saveTeam(record);
    return (await this.getTeam(record.tenantId, record.teamId))?.etag;
  }

  async getTeam(tenantId: string, teamId: string): Promise<TeamRecord | undefined> {
    const team = this.teams.get(`${tenantId.toLowerCase()}|${teamId}`);
    return team && structuredClone(team);
  }

  async addTeamMembers(tenantId: string, teamId: string, userIds: string[]): Promise<void> {
    const key = `${tenantId.toLowerCase()}|${teamId}`;
    const set = this.members.get(key) ?? new Set<string>();
    for (const id of userIds) set.add(id);
    this.members.set(key, set);
  }

  async removeTeamMembers(tenantId: string, teamId: string, userIds: string[]): Promise<void> {
    const set = this.members.get(`${tenantId.toLowerCase()}|${teamId}`);
    for (const id of userIds) set?.delete(id);
  }

  async listTeamMembers(tenantId: string, teamId: string): Promise<string[]> {
    return [...(this.members.get(`${tenantId.toLowerCase()}|${teamId}`) ?? [])];
  }
}

export class MemoryDeliveryRecordStore implements DeliveryRecordStore {
  readonly records = new Map<string, DeliveryRecord>();
  /** tenant|job → an audience job's totals, kept with each write as the Table adapter does. */
  readonly counts = new Map<string, Counts>();
  /** tenant|conversation → the messages sent into that chat (the Table adapter's `chat|` rows). */
  readonly sentByChat = new Map<string, SentMessageRef[]>();

  constructor(private readonly conversations: MemoryConversationStore) {}

  /** Stores a record; a counted record's change is counted in the same step. */
  put(tenantId: string, before: DeliveryRecord | undefined, next: DeliveryRecord): void {
    this.records.set(this.key(tenantId, next.jobId, next.recipient), next);
    const delta = next.counted || before?.counted ? countDelta(before, next) : undefined;
    if (!delta) return;
    const job = `${tenantId.toLowerCase()}|${next.jobId}`;
    this.counts.set(job, addCounts(this.counts.get(job) ?? emptyCounts(), delta));
  }

  key(tenantId: string, jobId: string, recipient: string) {
    return `${tenantId.toLowerCase()}|${jobId}|${recipient}`;
  }

  async get(tenantId: string, jobId: string, recipient: string): Promise<DeliveryRecord | undefined> {
    const record = this.records.get(this.key(tenantId, jobId, recipient));
    return record && { ...record };
  }

  /** tenant|job|userId → the recipient key that claimed that person first (the `person|` rows). */
  readonly persons = new Map<string, string>();

  async claim(args: ClaimRequest): Promise<ClaimResult> {
    const current = await this.get(args.tenantId, args.jobId, args.recipient);
    const user = await this.conversations.getUserById(args.tenantId, args.user.userId);
    const deliveryMoved = args.existing ? current?.etag !== args.existing.etag : current !== undefined;
    if (deliveryMoved && current) return { kind: 'delivery-exists', delivery: current };
    const person = this.key(args.tenantId, args.jobId, args.user.userId);
    const first = this.persons.get(person);
    if (!args.existing && first !== undefined && first !== args.recipient) {
      return { kind: 'same-person', recipient: first };
    }
    if (!user || user.etag !== args.user.etag) return { kind: 'user-changed' };
    if (!args.existing) this.persons.set(person, args.recipient);
    const now = new Date().toISOString();
    const { etag: _etag, ...rest } = args.user;
    const counted = this.conversations.put(claimCounts(args) ? countDelivery(rest, args.capHour) : rest);
    const delivery: DeliveryRecord = { ...args.existing, ...claimFields(args, now), etag: nextEtag() };
    this.put(args.tenantId, args.existing, delivery);
    return { kind: 'claimed', delivery: { ...delivery }, userEtag: counted.etag };
  }

  async renew(tenantId: string, claimed: DeliveryRecord): Promise<DeliveryRecord | undefined> {
    const key = this.key(tenantId, claimed.jobId, claimed.recipient);
    const current = this.records.get(key);
    if (!current || current.etag !== claimed.etag) return undefined;
    const now = new Date().toISOString();
    const renewed = { ...current, claimedAt: now, updatedAt: now, etag: nextEtag() };
    this.records.set(key, renewed);
    return { ...renewed };
  }

  async complete(
    tenantId: string,
    claimed: DeliveryRecord,
    outcome: DeliveryOutcome | PendingOutcome,
  ): Promise<boolean> {
    const key = this.key(tenantId, claimed.jobId, claimed.recipient);
    const current = this.records.get(key);
    if (!current || current.etag !== claimed.etag) return false;
    const terminal = TERMINAL.has(outcome.status);
    const now = new Date().toISOString();
    this.put(tenantId, current, {
      ...current,
      ...outcome,
      claimToken: terminal ? undefined : claimed.claimToken,
      completedAt: terminal ? now : current.completedAt,
      updatedAt: now,
      etag: nextEtag(),
    });
    this.indexSent(tenantId, claimed, outcome);
    return true;
  }

  /** As the Table adapter does in the same transaction: a sent message indexed by its chat. */
  private indexSent(
    tenantId: string,
    delivery: { jobId: string; recipient: string },
    outcome: DeliveryOutcome | PendingOutcome,
  ) {
    if (outcome.status !== 'sent' || !outcome.conversationId || !outcome.activityId) return;
    const chat = `${tenantId}|${outcome.conversationId}`;
    const ref = { jobId: delivery.jobId, recipient: delivery.recipient, activityId: outcome.activityId };
    const list = (this.sentByChat.get(chat) ?? []).filter((r) => r.activityId !== ref.activityId);
    this.sentByChat.set(chat, [...list, ref]);
  }

  async recordIfUnchanged(
    tenantId: string,
    jobId: string,
    recipient: string,
    outcome: DeliveryOutcome,
    existing: DeliveryRecord | undefined,
    options: { counted?: boolean | undefined } = {},
  ): Promise<boolean> {
    const key = this.key(tenantId, jobId, recipient);
    const current = this.records.get(key);
    if (existing ? current?.etag !== existing.etag : current) return false;
    const now = new Date().toISOString();
    this.put(tenantId, current, {
      jobId,
      recipient,
      attempts: existing?.attempts ?? 0,
      ...outcome,
      ...(options.counted || current?.counted ? { counted: true } : {}),
      completedAt: now,
      updatedAt: now,
      etag: nextEtag(),
    });
    this.indexSent(tenantId, { jobId, recipient }, outcome);
    return true;
  }

  async listForJob(tenantId: string, jobId: string): Promise<DeliveryRecord[]> {
    const prefix = `${tenantId.toLowerCase()}|${jobId}|`;
    return [...this.records].filter(([k]) => k.startsWith(prefix)).map(([, r]) => ({ ...r }));
  }
  async pageForJob(
    tenantId: string,
    jobId: string,
    page: { status?: DeliveryRecord['status'] | undefined; token?: string | undefined; size: number },
  ): Promise<{ records: DeliveryRecord[]; token?: string | undefined }> {
    const all = (await this.listForJob(tenantId, jobId)).filter(
      (r) =>
        !page.status || r.status === page.status || (page.status === 'pending' && r.status === 'sending'),
    );
    const start = Number(page.token ?? 0);
    const next = start + page.size;
    return { records: all.slice(start, next), token: next < all.length ? String(next) : undefined };
  }
}

/** Jobs by tenant and ID (`tenant|id`), as the Table adapter's partitions. */
const jobKey = (tenantId: string, jobId: string) => `${tenantId.toLowerCase()}|${jobId}`;

export class MemoryJobStore implements JobStore {
  readonly jobs = new Map<string, JobRecord>();

  async createOrGet(job: JobRecord): Promise<{ created: boolean; job: JobRecord }> {
    const existing = this.jobs.get(jobKey(job.tenantId, job.jobId));
    if (existing) return { created: false, job: { ...existing } };
    this.jobs.set(jobKey(job.tenantId, job.jobId), { ...job, etag: '1' });
    return { created: true, job: { ...job, etag: '1' } };
  }

  async get(tenantId: string, jobId: string): Promise<JobRecord | undefined> {
    const job = this.jobs.get(jobKey(tenantId, jobId));
    return job && { ...job };
  }

  async markFannedOut(tenantId: string, jobId: string): Promise<void> {
    const job = this.jobs.get(jobKey(tenantId, jobId));
    if (job) job.fannedOutAt = new Date().toISOString();
  }
  async markCompleted(tenantId: string, jobId: string, at: string, etag: string): Promise<boolean> {
    const job = this.jobs.get(jobKey(tenantId, jobId));
    if (job?.etag === etag) Object.assign(job, { completedAt: at, etag: String(Number(etag) + 1) });
    return job?.completedAt === at;
  }

  async saveExpansion(
    tenantId: string,
    jobId: string,
    state: ExpansionState,
    etag: string,
  ): Promise<string | undefined> {
    const job = this.jobs.get(jobKey(tenantId, jobId));
    if (!job || job.etag !== etag) return undefined;
    job.expansion = structuredClone(state);
    job.etag = String(Number(etag) + 1);
    return job.etag;
  }
}

export class MemoryRejectedJobStore implements RejectedJobStore {
  readonly rows: Array<RejectedJob & { rejectedAt: string }> = [];

  async add(rejected: RejectedJob): Promise<string> {
    const tenantId = rejected.tenantId?.toLowerCase();
    this.rows.unshift({ ...rejected, tenantId, rejectedAt: new Date().toISOString() });
    return String(this.rows.length);
  }

  async getForJob(tenantId: string, jobId: string): Promise<RejectionSummary | undefined> {
    const row = this.rows.find((r) => r.jobId === jobId && r.tenantId === tenantId.toLowerCase());
    return row && { reason: row.reason, errors: row.errors, source: row.source, rejectedAt: row.rejectedAt };
  }

  async recent(days: number, limit = 100) {
    const since = Date.now() - days * 86_400_000;
    return this.rows
      .filter((r) => Date.parse(r.rejectedAt) >= since)
      .slice(0, limit)
      .map(({ jobId, tenantId, reason, errors, source, rejectedAt }) => ({
        jobId,
        tenantId,
        reason,
        errors,
        source,
        rejectedAt,
      }));
  }
}

/** A queue that keeps what is sent, with its delay. */
export class MemoryQueue implements QueueSender {
  readonly messages: Array<{ message: unknown; delayMs: number }> = [];

  async send(message: unknown, delayMs = 0): Promise<void> {
    this.messages.push({ message: structuredClone(message), delayMs });
  }
}
