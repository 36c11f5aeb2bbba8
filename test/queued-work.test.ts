import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalHostProcess, type LocalHostProcess } from '../scripts/local-host/child.js';
import type { JobStatus } from '../functions/getNotification/jobStatus.js';
import { BOT_ID, FUNCTION_KEY, ROOT, TENANT, eventually, startApp, type TestApp } from './support/app.js';
import { teamEvent } from './support/activities.js';
import { FAST_QUEUES, enqueue, seedUser, settled, store } from './support/pipeline.js';

/**
 * Issue 22, item 6: long work leaves request handlers. A team install and an update or recall answer
 * with the work queued, not done: while the queue functions are off (as `AzureWebJobs.<name>.Disabled`
 * does on Azure), the answers come back with no roster page read and no change task queued; once
 * they are on, the queued work finishes. Against real Azurite, the local host and the Teams-like
 * connector, which serves the team's roster as Microsoft documents `/pagedmembers`.
 */

const MEMBERS = 600;
const TEAM = '19:queued-roster@thread.tacv2';
const alex = { id: '29:alex', name: 'Alex Wilber', aadObjectId: 'aad-alex' };
const QUEUE_FUNCTIONS = [
  'notificationJobs',
  'notificationDeliveries',
  'notificationUrgentDeliveries',
  'notificationBulkDeliveries',
  'notificationJobsPoison',
  'notificationDeliveriesPoison',
  'notificationUrgentDeliveriesPoison',
  'notificationBulkDeliveriesPoison',
];

let app: TestApp;
let host: LocalHostProcess | undefined;

beforeAll(async () => {
  app = await startApp({ env: FAST_QUEUES });
  // A roster entry as get-teams-context documents `/pagedmembers` (objectId, userPrincipalName, userRole).
  app.connector.setRoster(
    TEAM,
    Array.from({ length: MEMBERS }, (_, i) => ({
      id: `29:queued-member-${i}`,
      name: `Member ${i}`,
      objectId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      userPrincipalName: `member${i}@contoso.com`,
      tenantId: TENANT,
      userRole: 'user' as const,
    })),
  );
}, 60_000);

afterAll(async () => {
  await host?.stop();
  await app?.stop();
});

/** Serves the app again on the same Azurite, as a host process of its own: HTTP only, or with the queue functions. */
async function restart(queueFunctions: boolean): Promise<void> {
  await (host ?? app.host).stop();
  const off = queueFunctions
    ? {}
    : Object.fromEntries(QUEUE_FUNCTIONS.map((f) => [`AzureWebJobs.${f}.Disabled`, 'true']));
  host = await startLocalHostProcess({
    root: ROOT,
    port: 0,
    env: { PATH: process.env.PATH ?? '', ...app.env, ...off },
    onLine: (message) => app.logs.push({ level: 'information', category: 'host', message }),
  });
}

const api = (method: string, route: string, body?: unknown) =>
  fetch(`${host!.url}/api/${route}`, {
    method,
    headers: { 'x-functions-key': FUNCTION_KEY, 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
const rosterReads = () => app.connector.calls.filter((c) => c.route === 'getPagedMembers').length;
/** Messages on the deliveries queue, hidden ones (a task due later) included. */
const queued = async () =>
  (await app.queue('notification-deliveries').getProperties()).approximateMessagesCount ?? 0;

describe('queued work', () => {
  let jobId: string;

  it('a team install answers before any roster page is read, and a second install event queues nothing more', async () => {
    // A job sent to 40 people, for the update and recall below.
    const users = await Promise.all(Array.from({ length: 40 }, () => seedUser(app)));
    ({ jobId } = await enqueue(app, {
      recipients: users.map((u) => ({ userId: u.userId })),
      message: { text: 'v1' },
    }));
    await settled(app, jobId, 60_000);
    await restart(false);
    const reads = rosterReads();

    const install = teamEvent(app.connector.url, TEAM, alex, {
      eventType: 'teamMemberAdded',
      membersAdded: [{ id: BOT_ID, name: 'Notifier' }],
    });
    expect((await api('POST', 'messages', install)).status).toBe(200);
    // Answered: the team is recorded, its roster read is queued, and no page was read.
    expect(rosterReads()).toBe(reads);
    const team = await store(app).getTeam(TENANT, TEAM);
    expect(team).toMatchObject({ installed: true, rosterSync: { count: 0 } });
    expect(team?.rosterSyncedAt).toBeUndefined();
    expect(await queued()).toBe(1);
    // Teams' installationUpdate for the same install (or its retry) finds the read asked for.
    const again = teamEvent(app.connector.url, TEAM, alex, { type: 'installationUpdate', action: 'add' });
    expect((await api('POST', 'messages', again)).status).toBe(200);
    expect(await queued()).toBe(1);
    expect(rosterReads()).toBe(reads);
  });

  it('an update and a recall answer with one fan-out task queued, not a change task per copy', async () => {
    const before = await queued();
    const patch = await api('PATCH', `notifications/${jobId}`, { message: { text: 'v2' } });
    expect(patch.status).toBe(202);
    expect(await queued()).toBe(before + 1);
    const recall = await api('DELETE', `notifications/${jobId}`);
    expect(recall.status).toBe(202);
    const answer = (await recall.json()) as { recallRequestedAt?: string; recalledAt?: string };
    expect(answer.recallRequestedAt).toBeDefined();
    // The recall takes effect in its task, after every instance has seen the request.
    expect(answer.recalledAt).toBeUndefined();
    expect(await queued()).toBe(before + 2);
  });

  it('with the queue functions on, the roster is read once and every copy is recalled', async () => {
    await restart(true);
    const team = await eventually(
      async () => {
        const t = await store(app).getTeam(TENANT, TEAM);
        return t?.rosterSyncedAt ? t : undefined;
      },
      60_000,
      'the roster read',
    );
    expect(team).toMatchObject({ memberCount: MEMBERS, rosterSync: { count: MEMBERS } });
    expect(
      await store(app).getUser(TENANT, { kind: 'upn', value: `member${MEMBERS - 1}@contoso.com` }),
    ).toMatchObject({
      userId: `29:queued-member-${MEMBERS - 1}`,
    });
    const s = await eventually(
      async () => {
        const x = (await (await api('GET', `notifications/${jobId}`)).json()) as JobStatus;
        return x.totals.recalled === 40 ? x : undefined;
      },
      60_000,
      'every copy recalled',
    );
    expect(s.recalledAt).toBeDefined();
    expect(s.changes).toMatchObject({ op: 'recall', done: true, queued: 40 });
  });
});
