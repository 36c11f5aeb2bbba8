import type { TransactionAction } from '@azure/data-tables';
import pMap from 'p-map';
import { tableClient } from '../../shared/azureStorage/connection.js';
import {
  aliasRow,
  memberPrefix,
  partitionOf,
  userEntity,
} from '../../shared/azureStorage/conversationRows.js';
import { keyPart } from '../../shared/azureStorage/table.js';

/**
 * Seeds a stored tenant quickly (the audience tests and benchmark): user rows as the bot stores them
 * after roster reads, written 100 to a transaction, and a team's member rows. The rows come from the
 * app's own row codec, so they are what a team install would have left.
 */

export interface SeedOptions {
  connectionString: string;
  tenantId: string;
  serviceUrl: string;
  /** Teams user IDs to store. */
  userIds: string[];
  /** The source each user is known from (e.g. `team:<id>` or `personal`). */
  source: string;
  inactive?: boolean;
  optedOut?: boolean;
  /** The 1:1 chat already open with each user, if any. */
  conversationIdOf?: (userId: string) => string;
}

export async function seedUsers(o: SeedOptions): Promise<void> {
  const table = tableClient({ connectionString: o.connectionString }, 'Conversations');
  await table.createTable();
  const now = new Date().toISOString();
  const batches: string[][] = [];
  for (let i = 0; i < o.userIds.length; i += 100) batches.push(o.userIds.slice(i, i + 100));
  await pMap(
    batches,
    async (batch) => {
      const actions: TransactionAction[] = batch.map((userId) => [
        'upsert',
        userEntity({
          tenantId: o.tenantId,
          userId,
          serviceUrl: o.serviceUrl,
          conversationId: o.conversationIdOf?.(userId),
          sources: [o.source],
          inactiveReason: o.inactive ? 'RemovedFromTeam' : undefined,
          optedOut: o.optedOut === true,
          capCount: 0,
          updatedAt: now,
        }),
        'Replace',
      ]);
      await table.submitTransaction(actions);
    },
    { concurrency: 8 },
  );
}

export async function seedMembers(
  connectionString: string,
  tenantId: string,
  teamId: string,
  userIds: string[],
): Promise<void> {
  const table = tableClient({ connectionString }, 'Conversations');
  await table.createTable();
  const syncedAt = new Date().toISOString();
  for (let i = 0; i < userIds.length; i += 100) {
    await table.submitTransaction(
      userIds.slice(i, i + 100).map((userId) => [
        'upsert',
        {
          partitionKey: partitionOf(tenantId),
          rowKey: memberPrefix(teamId) + keyPart(userId),
          userId,
          teamId,
          syncedAt,
        },
        'Replace',
      ]),
    );
  }
}

/**
 * Alias rows `aad|<aadObjectId>` → user, as the conversation store writes them with a user (a user
 * the bot met through Teams, so found by object ID), 100 to a transaction.
 */
export async function seedAadAliases(
  connectionString: string,
  tenantId: string,
  pairs: Array<{ userId: string; aadObjectId: string }>,
): Promise<void> {
  const table = tableClient({ connectionString }, 'Conversations');
  await table.createTable();
  for (let i = 0; i < pairs.length; i += 100) {
    await table.submitTransaction(
      pairs
        .slice(i, i + 100)
        .map(({ userId, aadObjectId }) => [
          'upsert',
          { partitionKey: partitionOf(tenantId), rowKey: aliasRow('aad', aadObjectId), userId },
          'Replace',
        ]),
    );
  }
}
