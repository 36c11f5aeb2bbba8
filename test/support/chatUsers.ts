import pMap from 'p-map';
import type { ConversationStore } from '../../shared/stores/conversations.js';
import type { FakeConnector } from './fakeConnector.js';

export interface ChatUsersOptions {
  conversations: ConversationStore;
  fake: FakeConnector;
  tenantId: string;
  botId: string;
  userIds: string[];
  /** Where the bot learned of them, e.g. `team:19:…@thread.tacv2`. */
  source: string;
  /** False: known from the roster only, so the first delivery opens the chat. Default true. */
  withChat?: boolean;
  name?: (userId: string) => string;
  concurrency?: number;
}

/**
 * Users the bot knows from a team roster, in a tenant whose service URL is the Teams-like connector;
 * with a stored 1:1 chat that the connector holds, a delivery is one connector call.
 */
export async function seedChatUsers(o: ChatUsersOptions) {
  const { conversations, fake, tenantId, botId } = o;
  await conversations.saveTenant({ tenantId, serviceUrl: fake.url, botId });
  return pMap(
    o.userIds,
    async (userId) => {
      const conversationId =
        o.withChat === false ? undefined : fake.conversationIdFor(tenantId, userId, botId);
      if (conversationId)
        fake.registerConversation(conversationId, { tenantId, botId, members: [{ id: userId }] });
      await conversations.saveUser(
        tenantId,
        { userId, serviceUrl: fake.url, ...(o.name ? { name: o.name(userId) } : {}) },
        { source: o.source, ...(conversationId ? { conversationId } : {}) },
      );
      return { userId, conversationId };
    },
    { concurrency: o.concurrency ?? 16 },
  );
}
