import { LRUCache } from 'lru-cache';
import type { RecipientKey } from '../jobs/recipient.js';
import type { ConversationStore, UserRecord } from '../stores/conversations.js';
import type { DeliveryOutcome } from '../stores/deliveryRecords.js';
import { EventNames, telemetry } from '../telemetry/telemetry.js';
import type { AttemptContext, DeliveryResult, DeliveryTask } from './task.js';

/** What became of a recipient the store does not know: a user to deliver to, an outcome, or a later try. */
export type Reached = { user: UserRecord } | { outcome: DeliveryOutcome } | { result: DeliveryResult };

/**
 * Reaches a recipient named by UPN or AAD object ID whom the bot never met: through Microsoft Graph
 * (shared/graph/reach.ts), or, with Graph not configured, a failure saying so.
 */
export interface UnknownRecipients {
  reach(task: DeliveryTask, key: RecipientKey, attempt: AttemptContext): Promise<Reached>;
}

/**
 * Delivery's view of the conversation store: recipients by key with a small in-process cache (every
 * use of a cached record is validated by the claim's ETag check), the tenant's service URL and bot ID,
 * and the two changes a send makes to a user (its chat, its deactivation).
 */
export class Recipients {
  private readonly users = new LRUCache<string, UserRecord>({ max: 50_000, ttl: 10 * 60_000 });
  private readonly botIds = new Map<string, string>();

  constructor(
    private readonly conversations: ConversationStore,
    private readonly defaults: { botId: string | undefined; serviceUrl: string },
    private readonly unknown?: UnknownRecipients,
  ) {}

  /** A recipient the store does not know, by UPN or AAD object ID; undefined when nothing can reach them. */
  async reach(task: DeliveryTask, key: RecipientKey, attempt: AttemptContext): Promise<Reached | undefined> {
    if (!this.unknown || key.kind === 'userId') return undefined;
    const reached = await this.unknown.reach(task, key, attempt);
    if ('user' in reached) this.users.set(keyOf(task.tenantId, key), reached.user);
    return reached;
  }

  /** A user by key: from the cache or the fan-out's `snapshot` unless `fresh`, else from the store. */
  async resolve(
    tenantId: string,
    key: RecipientKey,
    fresh: boolean,
    snapshot?: UserRecord,
  ): Promise<UserRecord | undefined> {
    const cacheKey = keyOf(tenantId, key);
    if (!fresh) {
      const cached = this.users.get(cacheKey) ?? (snapshot?.tenantId === tenantId ? snapshot : undefined);
      if (cached) return cached;
    }
    let user = await this.conversations.getUser(tenantId, key);
    if (!user && key.kind === 'userId') {
      // A Teams user ID is enough to open a chat even if the bot never saw this user.
      const tenant = await this.conversations.getTenant(tenantId);
      user = await this.conversations.saveUser(
        tenantId,
        { userId: key.value, serviceUrl: tenant?.serviceUrl ?? this.defaults.serviceUrl },
        { source: 'job' },
      );
    }
    if (user) this.users.set(cacheKey, user);
    return user;
  }

  remember(tenantId: string, key: RecipientKey, user: UserRecord): void {
    this.users.set(keyOf(tenantId, key), user);
  }

  forget(tenantId: string, key: RecipientKey): void {
    this.users.delete(keyOf(tenantId, key));
  }

  /** Stores (or, with undefined, forgets) the user's 1:1 chat; returns the user as now stored. */
  async storeConversation(
    key: RecipientKey,
    user: UserRecord,
    conversationId: string | undefined,
  ): Promise<UserRecord> {
    // `user` comes from this attempt's claim, which just wrote the row: its ETag is usually current.
    const { user: stored } = await this.conversations.updateUser(
      user.tenantId,
      user.userId,
      (current) =>
        current ? { ...current, conversationId, updatedAt: new Date().toISOString() } : undefined,
      user,
    );
    const next = stored ?? { ...user, conversationId };
    this.remember(user.tenantId, key, next);
    return next;
  }

  /** Teams said this user cannot get the bot's messages: later jobs fail without calling Teams. */
  async deactivate(key: RecipientKey, user: UserRecord, reason: string, jobId: string): Promise<void> {
    await this.conversations.updateUser(user.tenantId, user.userId, (current) =>
      current ? { ...current, inactiveReason: reason, updatedAt: new Date().toISOString() } : undefined,
    );
    this.forget(user.tenantId, key);
    telemetry().event(EventNames.recipientDeactivated, {
      tenantId: user.tenantId,
      reason,
      jobId,
      recipient: telemetry().userRef(`userId:${user.userId}`),
    });
  }

  async serviceUrlFor(user: UserRecord): Promise<string> {
    if (user.serviceUrl) return user.serviceUrl;
    return (await this.conversations.getTenant(user.tenantId))?.serviceUrl ?? this.defaults.serviceUrl;
  }

  /** The bot's ID in Teams for this tenant: its stored reference, else `28:<appId>`. */
  async botIdFor(tenantId: string): Promise<string | undefined> {
    const cached = this.botIds.get(tenantId);
    if (cached) return cached;
    const botId = (await this.conversations.getTenant(tenantId))?.botId ?? this.defaults.botId;
    if (botId) this.botIds.set(tenantId, botId);
    return botId;
  }
}

const keyOf = (tenantId: string, key: RecipientKey) => `${tenantId}|${key.kind}:${key.value}`;
