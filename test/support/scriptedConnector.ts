import type { BotConnector, ConnectorResult } from '../../shared/delivery/connector.js';
import { DeliveryService } from '../../shared/delivery/deliver.js';
import { DeliveryRateLimiter } from '../../shared/delivery/rateLimiter.js';
import type { MemoryConversationStore, MemoryDeliveryRecordStore } from './memoryStores.js';

/**
 * A Bot Connector for in-memory delivery tests, answering with Microsoft's documented results for the
 * calls delivery makes (Create Conversation answers `{ id }`, Send to Conversation answers `{ id }`
 * of the activity; failures carry an `error.code`):
 * https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference
 * https://learn.microsoft.com/microsoftteams/platform/bots/build-conversational-capability#status-codes-from-bot-conversational-apis
 */
export type Answer = ConnectorResult<{ id: string }>;
export const ok = (id: string): Answer => ({ ok: true, status: 201, body: { id } });
export const fail = (status: number, code: string, retryAfterMs?: number): Answer => ({
  ok: false,
  status,
  code,
  message: `${code} from Teams`,
  retryAfterMs,
});

/** Answers each call from a script (then 201s), and records the calls made. */
export class ScriptedConnector implements BotConnector {
  readonly calls: Array<{ call: 'create' | 'send'; conversationId?: string }> = [];
  constructor(
    private readonly creates: Answer[] = [],
    private readonly sends: Answer[] = [],
  ) {}
  async createConversation() {
    this.calls.push({ call: 'create' });
    return this.creates.shift() ?? ok(`a:chat-${this.calls.length}`);
  }
  async sendToConversation(_url: string, conversationId: string) {
    this.calls.push({ call: 'send', conversationId });
    return this.sends.shift() ?? ok(`1:activity-${this.calls.length}`);
  }
}

/** A DeliveryService on in-memory stores with limits that never make a unit test wait. */
export function memoryDeliveryService(
  stores: { conversations: MemoryConversationStore; records: MemoryDeliveryRecordStore },
  connector: BotConnector,
  o: { serviceUrl: string } & Partial<ConstructorParameters<typeof DeliveryService>[0]>,
): DeliveryService {
  const { serviceUrl, ...over } = o;
  return new DeliveryService({
    ...stores,
    connector,
    limiter: new DeliveryRateLimiter({ tenantPerSecond: 1000, conversationPerSecond: 100 }),
    botId: undefined,
    defaultServiceUrl: serviceUrl,
    recipientHourlyCap: 30,
    ...over,
  });
}
