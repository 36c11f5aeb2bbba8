/**
 * Issue 15 end to end against Microsoft 365 Agents Playground: a job to the Playground's mock team
 * `team-id` and to all users, with the roster read again from the Playground before each team
 * expansion (ROSTER_MAX_AGE_MINUTES=0), checked by the 1:1 messages the Playground recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueNotification } from '../../shared/jobs/producer.js';
import type { JobStatus } from '../../functions/getNotification/jobStatus.js';
import { TableConversationStore } from '../../shared/azureStorage/tableConversationStore.js';
import { storageConnection } from '../../scripts/sandbox/settings.js';
import type { Sandbox } from '../../scripts/sandbox/stack.js';
import { eventually } from '../support/app.js';
import { seedMembers, seedUsers } from '../support/audience.js';
import { PLAYGROUND_DEFAULTS, type Playground } from '../support/playground.js';
import { startPlaygroundSandbox } from '../support/sandboxPorts.js';

const TENANT = PLAYGROUND_DEFAULTS.tenantId;
const ROSTER = [PLAYGROUND_DEFAULTS.currentUser, ...PLAYGROUND_DEFAULTS.users];
const [ALEX, MEGAN] = [ROSTER[0]!, ROSTER[1]!];
const LEFT = '29:left-the-team';

describe('audiences against Agents Playground', () => {
  let sandbox: Sandbox;
  let pg: Playground;
  let users: TableConversationStore;

  beforeAll(async () => {
    ({ sandbox, pg, users } = await startPlaygroundSandbox({ ROSTER_MAX_AGE_MINUTES: '0' }));
    await pg.installInTeam();
    await eventually(
      async () => (await users.getTeam(TENANT, 'team-id'))?.rosterSyncedAt,
      20_000,
      'the team roster to be stored',
    );
  });
  afterAll(async () => {
    await sandbox?.stop();
  });

  async function send(recipients: Array<Record<string, unknown>>, text: string): Promise<JobStatus> {
    const { jobId } = await enqueueNotification(
      { tenantId: TENANT, recipients: recipients as never, message: { text } },
      { connection: storageConnection(sandbox.ports) },
    );
    return eventually(
      async () => {
        const res = await fetch(`${sandbox.app.url}/api/notifications/${encodeURIComponent(jobId)}`);
        const body = res.ok ? ((await res.json()) as JobStatus) : undefined;
        return body?.complete ? body : undefined;
      },
      30_000,
      `job ${jobId} to settle`,
    );
  }

  /** The texts each roster member's 1:1 chat with the bot received, as the Playground recorded them. */
  async function dmTexts(userId: string): Promise<string[]> {
    const creates = (await pg.createConversationCalls()).filter(
      (c) => (c.request['members'] as Array<{ id: string }> | undefined)?.[0]?.id === userId,
    );
    const chats = [...new Set(creates.map((c) => c.conversationId).filter((id): id is string => !!id))];
    const texts = await Promise.all(chats.map(async (id) => (await pg.messagesIn(id)).map((m) => m.text)));
    return texts.flat().filter((t): t is string => !!t);
  }

  it('a team job reaches every member of team-id once, re-reads the roster, and leaves out who left and who opted out', async () => {
    // Someone the stored roster still lists, who is no longer in the team as Teams answers it.
    await seedUsers({
      connectionString: sandbox.azurite.connectionString,
      tenantId: TENANT,
      serviceUrl: (await users.getTeam(TENANT, 'team-id'))!.serviceUrl,
      userIds: [LEFT],
      source: 'team:team-id',
    });
    await seedMembers(sandbox.azurite.connectionString, TENANT, 'team-id', [LEFT]);
    await users.updateUser(TENANT, ALEX.id, (u) => u && { ...u, optedOut: true });

    const s = await send([{ teamId: 'team-id' }, { upn: MEGAN.userPrincipleName }], 'Team meeting moved');
    expect(s.totals).toMatchObject({
      recipients: ROSTER.length,
      sent: ROSTER.length - 1,
      failed: 0,
      skipped: 1,
      pending: 0,
    });
    for (const member of ROSTER.slice(1)) {
      expect(await dmTexts(member.id), member.name).toEqual(['Team meeting moved']);
    }
    expect(await dmTexts(ALEX.id)).toEqual([]);
    expect(await dmTexts(LEFT)).toEqual([]);
    expect((await users.getUserById(TENANT, LEFT))?.inactiveReason).toBe('RemovedFromTeam');
    const skipped = await fetch(`${sandbox.app.url}/api/notifications/${s.jobId}?status=skipped`);
    expect(((await skipped.json()) as JobStatus).recipients).toEqual([
      expect.objectContaining({ recipient: `userId:${ALEX.id}`, status: 'skipped', reason: 'OptedOut' }),
    ]);
  });

  it('an allUsers job reaches every active user the bot knows in the tenant once', async () => {
    await users.updateUser(TENANT, ALEX.id, (u) => u && { ...u, optedOut: false });
    const s = await send([{ allUsers: true }], 'Company update');
    expect(s.totals).toMatchObject({
      recipients: ROSTER.length,
      sent: ROSTER.length,
      failed: 0,
      skipped: 0,
      pending: 0,
    });
    for (const member of ROSTER) {
      expect(
        (await dmTexts(member.id)).filter((t) => t === 'Company update'),
        member.name,
      ).toHaveLength(1);
    }
    expect(await dmTexts(LEFT)).toEqual([]);
  });
});
