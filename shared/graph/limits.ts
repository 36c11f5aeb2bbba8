import type { BudgetStore } from '../delivery/budget/port.js';
import { SharedTenantBudget } from '../delivery/budget/sharedBudget.js';
import { DeliveryRateLimiter } from '../delivery/rateLimiter.js';
import type { GraphCall } from './port.js';
import type { GraphSettings } from './settings.js';

/**
 * Microsoft Graph's limits as budgets: each call counts against one limit per app per tenant
 * (settings.ts cites the numbers), kept like the Bot Connector's. Each budget is the delivery
 * limiter (delivery/rateLimiter.ts) over its own shared schedule (delivery/budget/sharedBudget.ts),
 * one row per tenant and budget in `RateBudgets`, so every instance spends one budget together.
 */

/** Which of Graph's limits a call counts against. */
export type GraphBudget = 'directory' | 'teamsRead' | 'teamsWrite';

/**
 * Teams rows of the throttling table: "GET ... installedApps, appCatalogs" and "POST/PUT ...
 * installedApps, appCatalogs". The chat of an installation is read under installedApps
 * (`GET /users/{id}/teamwork/installedApps/{id}/chat`), so it is counted with them: the stricter
 * reading of the table ("Other GET API calls for Microsoft Teams" would be a third 30/s).
 */
export function budgetOf(call: GraphCall): GraphBudget {
  switch (call) {
    case 'getUser':
    case 'countGroupMembers':
    case 'groupMembers':
      return 'directory';
    case 'installApp':
      return 'teamsWrite';
    case 'findCatalogApp':
    case 'findInstallation':
    case 'getChat':
      return 'teamsRead';
  }
}

/** The budget rows' names in `RateBudgets` (the Bot Connector's is `budget`). */
export const BUDGET_ROWS: Record<GraphBudget, string> = {
  directory: 'graph-directory',
  teamsRead: 'graph-teams-read',
  teamsWrite: 'graph-teams-write',
};

export function rateOf(budget: GraphBudget, settings: GraphSettings): number {
  return budget === 'directory' ? settings.directoryRatePerSecond : settings.teamsRatePerSecond;
}

export type GraphLimiters = Record<GraphBudget, DeliveryRateLimiter> & { stop(): void };

/** One limiter per budget; shared through `store(row)` when given, else each process paces alone. */
export function graphLimiters(
  settings: GraphSettings,
  store: ((row: string) => BudgetStore) | undefined,
): GraphLimiters {
  const budgets: SharedTenantBudget[] = [];
  const make = (budget: GraphBudget) => {
    const ratePerSecond = rateOf(budget, settings);
    const shared = store && new SharedTenantBudget({ store: store(BUDGET_ROWS[budget]), ratePerSecond });
    if (shared) budgets.push(shared);
    // Graph calls are not into a conversation: the per-conversation pace never applies.
    return new DeliveryRateLimiter({
      tenantPerSecond: ratePerSecond,
      conversationPerSecond: 1,
      budget: shared,
    });
  };
  return {
    directory: make('directory'),
    teamsRead: make('teamsRead'),
    teamsWrite: make('teamsWrite'),
    stop: () => budgets.forEach((b) => b.stop()),
  };
}
