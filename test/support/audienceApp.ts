import { afterAll, beforeAll, expect } from 'vitest';
import type { JobStatus } from '../../functions/getNotification/jobStatus.js';
import { BOT_ID, FUNCTION_KEY, TENANT, startApp, type TestApp } from './app.js';
import { seedMembers, seedUsers } from './audience.js';
import { FAST_QUEUES, store } from './pipeline.js';

/**
 * The app as the audience tests run it (issue 15): real Azurite, the local host and the Teams-like
 * connector, audience pages of 3 and rosters fresh for an hour; and the teams and people they use.
 */

/**
 * Starts the app before a file's tests and stops it after them; `started` gets it once it runs.
 * Returns the tests' helpers, which act on that app.
 */
export function useAudienceApp(started: (app: TestApp) => void) {
  let app: TestApp | undefined;
  let run = 0;
  const current = () => app!;

  beforeAll(async () => {
    app = await startApp({ env: { ...FAST_QUEUES, AUDIENCE_PAGE_SIZE: '3', ROSTER_MAX_AGE_MINUTES: '60' } });
    await store(app).saveTenant({ tenantId: TENANT, serviceUrl: app.connector.url, botId: BOT_ID });
    started(app);
  });
  afterAll(async () => {
    await app?.stop();
  });

  /** A fresh set of users for one test, so the tests do not see each other's people. */
  function people(n: number): string[] {
    run += 1;
    return Array.from({ length: n }, (_, i) => `29:aud-${run}-${i}`);
  }

  /** How many sets of people the file's tests have taken so far. */
  const runs = () => run;

  async function team(teamId: string, members: string[], o: { installed?: boolean; syncedAt?: string } = {}) {
    await seedUsers({
      connectionString: current().azurite.connectionString,
      tenantId: TENANT,
      serviceUrl: current().connector.url,
      userIds: members,
      source: `team:${teamId}`,
    });
    await seedMembers(current().azurite.connectionString, TENANT, teamId, members);
    await store(current()).saveTeam({
      tenantId: TENANT,
      teamId,
      serviceUrl: current().connector.url,
      installed: o.installed ?? true,
      memberCount: members.length,
      rosterSyncedAt: o.syncedAt ?? new Date().toISOString(),
    });
  }

  /** How many messages each user's 1:1 chat received. */
  function sends(userIds: string[]): number[] {
    return userIds.map((userId) => {
      const chat = current().connector.conversationIdFor(TENANT, userId, BOT_ID);
      return current().connector.accepted.filter((a) => a.conversationId === chat).length;
    });
  }

  const statusOf = async (jobId: string, query = ''): Promise<JobStatus> => {
    const res = await current().get(`notifications/${encodeURIComponent(jobId)}${query}`, {
      'x-functions-key': FUNCTION_KEY,
    });
    expect(res.status).toBe(200);
    return (await res.json()) as JobStatus;
  };

  return { people, runs, team, sends, statusOf };
}
