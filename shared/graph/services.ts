import type { AppConfig } from '../config.js';
import type { BudgetStore } from '../delivery/budget/port.js';
import type { BotConnector } from '../delivery/connector.js';
import type { DeliveryRateLimiter } from '../delivery/rateLimiter.js';
import type { AudienceStore } from '../stores/audiences.js';
import type { ConversationStore } from '../stores/conversations.js';
import type { InstallMarks } from '../stores/installMarks.js';
import { CatalogIds } from './catalog.js';
import { GraphClient } from './client.js';
import { GraphGroups, type GroupRows } from './groups.js';
import { graphLimiters } from './limits.js';
import { GraphRecipients } from './reach.js';
import { graphScope, graphSetup } from './setup.js';
import { graphTokens } from './token.js';

/** In-process waits for a Retry-After up to this long; a longer one goes back to the queue. */
const MAX_IN_PROCESS_WAIT_MS = 10_000;

/**
 * Microsoft Graph's part of the app, built once per process by container.ts: what reaches people
 * the bot never met (delivery) and what reads Entra groups (audience expansion). With Graph not
 * configured (setup.ts) both still exist and say so in their reasons.
 */
export function graphServices(
  config: AppConfig,
  d: {
    conversations: ConversationStore;
    audiences: AudienceStore;
    marks: InstallMarks;
    groupRows: GroupRows;
    connector: BotConnector;
    limiter: DeliveryRateLimiter;
    budgetStore: ((row: string) => BudgetStore) | undefined;
  },
) {
  const setup = graphSetup(config);
  const limiters = setup.enabled ? graphLimiters(config.graph, d.budgetStore) : undefined;
  const client =
    setup.enabled && limiters
      ? new GraphClient(setup, {
          tokens: setup.auth === 'app' ? graphTokens(config.bot, graphScope(setup)) : undefined,
          limiters,
          timeoutMs: config.graph.timeoutMs,
          maxWaitMs: MAX_IN_PROCESS_WAIT_MS,
        })
      : undefined;
  const recipients = new GraphRecipients({
    setup,
    graph: client,
    catalog: client && new CatalogIds(client, config.graph),
    conversations: d.conversations,
    marks: d.marks,
    connector: d.connector,
    limiter: d.limiter,
    defaultServiceUrl: config.defaultServiceUrl,
    retryWindowMs: config.deliveryRetryWindowMs,
  });
  const groups = new GraphGroups({
    setup,
    graph: client,
    conversations: d.conversations,
    audiences: d.audiences,
    rows: d.groupRows,
  });
  return { setup, client, recipients, groups, stop: () => limiters?.stop() };
}
