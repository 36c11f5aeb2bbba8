/**
 * Request handlers benchmark (issue 22, item 6): how long a team install and an update or recall take
 * to answer when the work they start is large, now that the work is queued. A team of 3,000 and of
 * 6,100 members installs through `POST /api/messages` on the local host (its own process, queue
 * functions on): the answer, then how long the queued roster read takes. A job with 50,000 sent
 * copies is updated and recalled through `PATCH`/`DELETE /api/notifications/{id}` (queue functions
 * off, so nothing competes): the answers, then the queued fan-out run in this process until its
 * 50,000 change tasks are on the queue (the work the request used to do before answering).
 *
 * Alone: BENCH_ONLY=handlers npm run bench (writes its section of RESULTS.md).
 */
import os from 'node:os';
import { join } from 'node:path';
import type { TransactionAction } from '@azure/data-tables';
import { startLocalHostProcess, type LocalHostProcess } from '../scripts/local-host/child.js';
import { tableClient } from '../shared/azureStorage/connection.js';
import { deliveryRow } from '../shared/azureStorage/conversationRows.js';
import { LazyTable } from '../shared/azureStorage/table.js';
import { TableConversationStore } from '../shared/azureStorage/tableConversationStore.js';
import { loadConfig } from '../shared/config.js';
import { buildServices } from '../shared/container.js';
import { runChangeFanOut, type ChangeFanOutTask } from '../shared/followUps/changeFanOut.js';
import { startAzurite } from '../test/support/azurite.js';
import { round, sleep } from './common.js';
import { formatMarkdown, writeSection } from './results.js';
import { startFakeConnector, type FakeConnector } from '../test/support/fakeConnector.js';

const TENANT = '11111111-2222-3333-4444-555555555555';
const BOT_ID = '28:00000000-0000-0000-0000-00000000b0b0';
const KEY = 'bench-key';
const COPIES = Number(process.env.BENCH_HANDLERS_COPIES ?? 50_000);
const TEAMS = [3000, 6100];
// Every queue function, the lanes' too: with the urgent and bulk listeners polling their (empty) queues,
// this Azurite ran a core flat out and the fan-out took 762 s instead of 59 s; nothing should compete.
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

async function host(root: string, connectionString: string, fake: FakeConnector, queueFunctions: boolean) {
  return startLocalHostProcess({
    root,
    port: 0,
    env: {
      PATH: process.env.PATH ?? '',
      AzureWebJobsStorage: connectionString,
      FUNCTIONS_KEY: KEY,
      MicrosoftAppId: '',
      ALLOW_UNAUTHENTICATED_ACTIVITIES: 'true',
      BOT_SERVICE_URL: fake.url,
      DEFAULT_TENANT_ID: TENANT,
      AzureFunctionsJobHost__extensions__queues__maxPollingInterval: '00:00:00.2',
      ...(queueFunctions
        ? {}
        : Object.fromEntries(QUEUE_FUNCTIONS.map((f) => [`AzureWebJobs.${f}.Disabled`, 'true']))),
    },
  });
}

/** A roster entry as get-teams-context documents `/pagedmembers`. */
const rosterOf = (teamId: string, size: number) =>
  Array.from({ length: size }, (_, i) => ({
    id: `29:${teamId.slice(3, 9)}-${i}`,
    name: `Member ${i}`,
    objectId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    userPrincipalName: `m${i}.${teamId.slice(3, 9)}@contoso.com`,
    tenantId: TENANT,
    userRole: 'user' as const,
  }));

/** A team install as Teams sends it (conversationUpdate, teamMemberAdded with the bot). */
const installActivity = (serviceUrl: string, teamId: string) => ({
  type: 'conversationUpdate',
  id: `install-${teamId}`,
  channelId: 'msteams',
  serviceUrl,
  from: { id: '29:installer', name: 'Installer', aadObjectId: 'aad-installer' },
  recipient: { id: BOT_ID, name: 'Notifier' },
  conversation: { id: teamId, conversationType: 'channel', isGroup: true, tenantId: TENANT },
  membersAdded: [{ id: BOT_ID, name: 'Notifier' }],
  channelData: {
    tenant: { id: TENANT },
    team: { id: teamId, name: `Team of ${teamId}` },
    eventType: 'teamMemberAdded',
  },
});

async function teamInstalls(root: string, connectionString: string, fake: FakeConnector) {
  const h = await host(root, connectionString, fake, true);
  const conversations = new TableConversationStore(
    new LazyTable(tableClient({ connectionString }, 'Conversations')),
  );
  const out = [];
  try {
    for (const size of TEAMS) {
      const teamId = `19:team${size}@thread.tacv2`;
      fake.setRoster(teamId, rosterOf(teamId, size));
      const started = performance.now();
      const res = await fetch(`${h.url}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(installActivity(fake.url, teamId)),
      });
      const answerMs = performance.now() - started;
      if (res.status !== 200) throw new Error(`install answered ${res.status}`);
      let team;
      while (!(team = await conversations.getTeam(TENANT, teamId))?.rosterSyncedAt) await sleep(100);
      out.push({
        members: size,
        answerMs: round(answerMs),
        rosterReadS: round((performance.now() - started) / 1000),
        stored: team.memberCount,
      });
      console.log(
        `handlers: team of ${size}: answered in ${round(answerMs)} ms, roster stored after ${out.at(-1)!.rosterReadS} s`,
      );
    }
  } finally {
    await h.stop();
  }
  return out;
}

/** A sent audience job with `COPIES` delivery records, written in entity-group transactions of 100. */
async function sentJob(connectionString: string, jobId: string) {
  const s = buildServices(loadConfig({ AzureWebJobsStorage: connectionString }));
  await s.jobs.createOrGet({
    jobId,
    tenantId: TENANT,
    recipients: [],
    audience: { teams: [], allUsers: true },
    expansion: { segment: 1, queued: COPIES, estimate: COPIES, done: true },
    contentHash: 'bench',
    acceptedAt: new Date().toISOString(),
    source: 'bench',
    fannedOutAt: new Date().toISOString(),
  });
  await s.contents.ensure({ tenantId: TENANT, jobId, message: { text: 'v1' } });
  const table = tableClient({ connectionString }, 'Conversations');
  await table.createTable();
  const now = new Date().toISOString();
  const batches: TransactionAction[][] = [];
  for (let i = 0; i < COPIES; i += 100) {
    batches.push(
      Array.from({ length: Math.min(100, COPIES - i) }, (_, k) => {
        const n = i + k;
        const recipient = `userId:29:copy-${n}`;
        return [
          'create',
          {
            partitionKey: TENANT,
            rowKey: deliveryRow(jobId, recipient),
            jobId,
            recipient,
            status: 'sent',
            userId: `29:copy-${n}`,
            conversationId: `a:copy-${n}`,
            activityId: String(1_700_000_000_000 + n),
            revision: 0,
            attempts: 1,
            counted: true,
            completedAt: now,
            updatedAt: now,
          },
        ] as TransactionAction;
      }),
    );
  }
  for (let i = 0; i < batches.length; i += 8)
    await Promise.all(batches.slice(i, i + 8).map((b) => table.submitTransaction(b)));
  return s;
}

async function changeRequests(root: string, connectionString: string, fake: FakeConnector) {
  const jobId = 'bench-50k';
  const seeding = performance.now();
  const s = await sentJob(connectionString, jobId);
  console.log(`handlers: ${COPIES} sent copies seeded in ${round((performance.now() - seeding) / 1000)} s`);
  const h: LocalHostProcess = await host(root, connectionString, fake, false);
  const call = async (method: string, body?: unknown) => {
    const started = performance.now();
    const res = await fetch(`${h.url}/api/notifications/${jobId}`, {
      method,
      headers: { 'x-functions-key': KEY, 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    if (res.status !== 202) throw new Error(`${method} answered ${res.status}: ${await res.text()}`);
    return round(performance.now() - started);
  };
  try {
    const updateMs = await call('PATCH', { message: { text: 'v2' } });
    const recallMs = await call('DELETE');
    console.log(`handlers: ${COPIES}-copy job: PATCH answered in ${updateMs} ms, DELETE in ${recallMs} ms`);
    // The recall's fan-out task (the latest request's), run here as the deliveries function would.
    const state = await s.contents.fanOut(TENANT, jobId);
    const task: ChangeFanOutTask = {
      v: 1,
      kind: 'changeFanOut',
      op: 'recall',
      tenantId: TENANT,
      jobId,
      fanOutId: state!.id,
    };
    await sleep(2500); // the settle time
    const started = performance.now();
    let messages = 0;
    for (;;) {
      const result = await runChangeFanOut(task, s);
      messages++;
      if (result.kind === 'done') {
        const fanOutS = round((performance.now() - started) / 1000);
        console.log(
          `handlers: fan-out queued ${result.queued} change tasks in ${fanOutS} s (${messages} task messages)`,
        );
        return { copies: COPIES, updateMs, recallMs, fanOutS, queued: result.queued, taskMessages: messages };
      }
    }
  } finally {
    await h.stop();
  }
}

export async function handlersBenchmark(root: string) {
  const azurite = await startAzurite();
  const fake = await startFakeConnector({ rateLimits: false, recordCalls: false });
  try {
    const installs = await teamInstalls(root, azurite.connectionString, fake);
    const changes = await changeRequests(root, azurite.connectionString, fake);
    return { installs, changes, loadAverage: os.loadavg().map((l) => round(l, 2)) };
  } finally {
    await fake.stop();
    await azurite.stop();
  }
}

export type HandlersResult = Awaited<ReturnType<typeof handlersBenchmark>>;

export function handlersSection(r: HandlersResult, date: string): string {
  const rows = r.installs
    .map(
      (i) =>
        `| Team install, ${i.members} members: \`POST /api/messages\` answered / roster read and stored (queued task, ${i.stored} stored) | ${i.answerMs} ms / ${i.rosterReadS} s | answer well under 1 s | ${i.answerMs < 1000 ? 'met' : '**not met**'} |`,
    )
    .join('\n');
  const c = r.changes;
  return `<!-- handlers:start -->

## Request handlers: long work is queued (issue 22)

Command: \`BENCH_ONLY=handlers npm run bench\` (or the whole \`npm run bench\`), run ${date}. Load average (1/5/15 min)
${r.loadAverage.join(' / ')}. In-memory Azurite, the local host as its own process, the Teams-like connector serving rosters
in pages of 500. Before issue 22 the install read the whole roster in the turn (10 s for 3,000 members, 16 s for 6,100, as
tried for the issue) and an update or recall queued one message per copy inside the request, after a 2 s settle.
The first request to a function on the fresh host also loads its code: the 3,000-member install and the \`PATCH\` came first.

| Measure | Result | Target | |
| --- | --- | --- | --- |
${rows}
| Job with ${c.copies} sent copies: \`PATCH\` / \`DELETE /api/notifications/{id}\` answered | ${c.updateMs} / ${c.recallMs} ms | well under 1 s | ${Math.max(c.updateMs, c.recallMs) < 1000 ? 'met' : '**not met**'} |
| Its recall's queued fan-out: ${c.queued} change tasks queued (${c.taskMessages} fan-out messages, 30 s each at most) | ${c.fanOutS} s | — | — |

<!-- handlers:end -->`;
}

/** Runs it and writes its own section of RESULTS.md, so it can be run alone. */
export async function handlers(root: string): Promise<void> {
  const file = join(root, 'bench', 'RESULTS.md');
  writeSection(file, 'handlers', handlersSection(await handlersBenchmark(root), new Date().toISOString()));
  await formatMarkdown(file);
}
