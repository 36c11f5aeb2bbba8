/**
 * Graph group benchmark (issue 23): one job to an Entra group of 5,000 users, 60 % of whom never
 * installed the app, on 3 local-host processes sharing one Azurite. The fake Graph
 * (scripts/sandbox/fakeGraph/) enforces Microsoft's documented Graph limits, the Teams-like
 * connector Teams' (50/s per app per tenant, 7/s per chat). Measures elapsed time against the
 * optimum both sets of limits allow together, 429s, lost and duplicates. Real limits, no scaling.
 *
 * Alone: BENCH_ONLY=graph npm run bench (writes its section of RESULTS.md).
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import os from 'node:os';
import { deployDir } from '../scripts/deploy/layout.js';
import type { DirectoryUser } from '../scripts/sandbox/fakeGraph/directory.js';
import { startFakeGraph } from '../scripts/sandbox/fakeGraph/server.js';
import { startLocalHostProcess, type LocalHostProcess } from '../scripts/local-host/child.js';
import { tableClient } from '../shared/azureStorage/connection.js';
import { LazyTable } from '../shared/azureStorage/table.js';
import { TableConversationStore } from '../shared/azureStorage/tableConversationStore.js';
import { TableDeliveryRecordStore } from '../shared/azureStorage/tableDeliveryRecordStore.js';
import { startFakeConnector } from '../test/support/fakeConnector.js';
import { seedAadAliases, seedUsers } from '../test/support/audience.js';
import { round, sleep } from './common.js';
import { cpuSecondsOf } from './cpu.js';
import { startRamDiskAzurite } from './ramAzurite.js';

const TENANT = '11111111-2222-3333-4444-777777777777';
const BOT_ID = '28:00000000-0000-0000-0000-00000000b0b0';
const KEY = 'bench-key';
const APP = {
  id: 'b1c5353a-7aca-41b3-830f-27d5218fe0e5',
  externalId: 'f31b1263-ba99-435a-a679-911d24850d7c',
  displayName: 'Teams Notifier',
  distributionMethod: 'organization' as const,
};
const GROUP = '02bd9fd6-8f93-4758-87c3-1fb73740a315';
/** Teams' Bot Connector limits (docs/rate-limits.md) and Microsoft Graph's (settings.ts, throttle.ts). */
export const LIMITS = {
  connectorPerSecond: 50,
  graphTeamsReadPerSecond: 30,
  graphTeamsWritePerSecond: 30,
  identityUnitsPerSecond: 800,
};

export interface GraphBenchOptions {
  root: string;
  members: number;
  neverInstalledShare: number;
  instances: number;
}

/** A deterministic Entra object ID for member `i`. */
const oidOf = (i: number) => `5b649834-7412-4cce-9e69-${String(i).padStart(12, '0')}`;

/**
 * The least time the limits allow together: each never-installed member costs Graph one install
 * (POST installedApps, 30/s), two installedApps reads (its installation, its chat: 30/s together),
 * a user read (1 identity unit of 800/s for a tenant over 500 users) and the Bot Connector one member
 * read and one send; an installed member one send. Graph's and Teams' limits are separate, so the
 * busiest of them sets the pace.
 */
export function optimum(members: number, neverInstalled: number) {
  const known = members - neverInstalled;
  const seconds = {
    graphTeamsReads: (2 * neverInstalled) / LIMITS.graphTeamsReadPerSecond,
    graphTeamsWrites: neverInstalled / LIMITS.graphTeamsWritePerSecond,
    // Each transitiveMembers page of up to 999 costs 4 units with $select (throttling-limits.md).
    graphIdentity: (neverInstalled + 4 * Math.ceil(members / 999)) / LIMITS.identityUnitsPerSecond,
    connector: (known + 2 * neverInstalled) / LIMITS.connectorPerSecond,
  };
  return { seconds, optimumS: Math.max(...Object.values(seconds)) };
}

export async function graphBenchmark(o: GraphBenchOptions) {
  const store = await startRamDiskAzurite('graph');
  const connector = await startFakeConnector({
    rateLimits: {
      perAppTenant: [{ limit: LIMITS.connectorPerSecond, windowMs: 1000 }],
      perConversation: [{ limit: 7, windowMs: 1000 }],
      retryAfter: true,
    },
  });
  const neverInstalled = Math.round(o.members * o.neverInstalledShare);
  const users: DirectoryUser[] = Array.from({ length: o.members }, (_, i) => ({
    id: oidOf(i),
    userPrincipalName: `member${i}@contoso.com`,
    displayName: `Member ${i}`,
  }));
  // Spread the installed members through the group, as in a real department.
  const installed = new Set(users.filter((_, i) => i % 5 === 0 || i % 5 === 3).map((u) => u.id));
  while (installed.size > o.members - neverInstalled) installed.delete([...installed].pop()!);
  const teamsId = (oid: string) => `29:bench-${oid.slice(-12)}`;
  const graph = await startFakeGraph({
    directory: {
      users,
      groups: [{ id: GROUP, displayName: 'Everyone', members: users.map((u) => u.id) }],
      catalog: [APP],
    },
    limits: 'documented',
    createChat: async (user) => {
      const chat = `19:${user.id}_${APP.id}@unq.gbl.spaces`;
      connector.registerConversation(chat, {
        tenantId: TENANT,
        botId: BOT_ID,
        members: [{ id: teamsId(user.id), objectId: user.id }],
      });
      return chat;
    },
  });
  let hosts: LocalHostProcess[] = [];
  try {
    // The installed members: stored with their chat and object ID alias, as after their installs.
    const known = users.filter((u) => installed.has(u.id));
    const chatOf = (userId: string) => connector.conversationIdFor(TENANT, userId, BOT_ID);
    for (const u of known)
      connector.registerConversation(chatOf(teamsId(u.id)), {
        tenantId: TENANT,
        botId: BOT_ID,
        members: [{ id: teamsId(u.id) }],
      });
    const conversations = new TableConversationStore(
      new LazyTable(tableClient({ connectionString: store.connectionString }, 'Conversations')),
    );
    await conversations.saveTenant({ tenantId: TENANT, serviceUrl: connector.url, botId: BOT_ID });
    await seedUsers({
      connectionString: store.connectionString,
      tenantId: TENANT,
      serviceUrl: connector.url,
      userIds: known.map((u) => teamsId(u.id)),
      source: 'personal',
      conversationIdOf: chatOf,
    });
    await seedAadAliases(
      store.connectionString,
      TENANT,
      known.map((u) => ({ userId: teamsId(u.id), aadObjectId: u.id })),
    );

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      AzureWebJobsStorage: store.connectionString,
      FUNCTIONS_KEY: KEY,
      MicrosoftAppId: '',
      BOT_SERVICE_URL: connector.url,
      GRAPH_BASE_URL: graph.url,
      TEAMS_APP_CATALOG_ID: APP.id,
      RECIPIENT_HOURLY_CAP: '100000',
    };
    delete env.APPLICATIONINSIGHTS_CONNECTION_STRING;
    const problems: string[] = [];
    hosts = await Promise.all(
      Array.from({ length: o.instances }, () =>
        startLocalHostProcess({
          root: deployDir(o.root),
          port: 0,
          env,
          onLine: (line) => {
            if (process.env.BENCH_GRAPH_LOG)
              appendFileSync(process.env.BENCH_GRAPH_LOG, `${Date.now()} ${line}\n`);
            // Start-up lines (the poison functions' names, no app ID for the emulator) are not problems.
            if (/MicrosoftAppId is not set|Poison: queue/.test(line)) return;
            if (/warn|error|fail|poison/i.test(line) && problems.length < 100)
              problems.push(line.slice(0, 300));
          },
        }),
      ),
    );
    const load = os.loadavg()[0]!;
    const cpu = () => store.cpuSeconds() + hosts.reduce((a, h) => a + (cpuSecondsOf(h.child.pid) ?? 0), 0);
    const cpu0 = cpu();
    const t0 = Date.now();
    const res = await fetch(`${hosts[0]!.url}/api/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-functions-key': KEY },
      body: JSON.stringify({
        id: `graph-bench-${randomUUID()}`,
        tenantId: TENANT,
        recipients: [{ groupId: GROUP }],
        message: { text: 'Everyone: the office is closed on Friday' },
      }),
    });
    const jobId = ((await res.json()) as { jobId: string }).jobId;
    if (res.status !== 202) throw new Error(`job not accepted: ${res.status}`);

    // Each member's chat: the installation's for the never-installed, the stored one for the others.
    const memberChat = new Map(
      users.map((u) => [
        installed.has(u.id) ? chatOf(teamsId(u.id)) : `19:${u.id}_${APP.id}@unq.gbl.spaces`,
        u.id,
      ]),
    );
    const reached = () =>
      new Set(connector.accepted.filter((a) => memberChat.has(a.conversationId)).map((a) => a.conversationId))
        .size;
    const { optimumS, seconds } = optimum(o.members, neverInstalled);
    const deadline = t0 + optimumS * 3000 + 60_000;
    while (reached() < o.members && Date.now() < deadline) await sleep(500);
    const lastAt = Math.max(...connector.accepted.map((a) => a.at));
    await sleep(3000); // late duplicates would show
    const runS = (Date.now() - t0) / 1000;
    const cpuShare = round((cpu() - cpu0) / runS, 2);

    const perChat = new Map<string, number>();
    for (const a of connector.accepted)
      if (memberChat.has(a.conversationId))
        perChat.set(a.conversationId, (perChat.get(a.conversationId) ?? 0) + 1);
    const records = await new TableDeliveryRecordStore(
      new LazyTable(tableClient({ connectionString: store.connectionString }, 'Conversations')),
    ).listForJob(TENANT, jobId);
    const statuses: Record<string, number> = {};
    for (const r of records) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    const terminal = records.filter((r) => ['sent', 'failed', 'skipped'].includes(r.status)).length;
    const graphCalls = graph.requests.length;
    const graph429 = graph.requests.filter((r) => r.status === 429).length;
    const byRoute: Record<string, { calls: number; throttled: number }> = {};
    for (const r of graph.requests) {
      const row = (byRoute[r.route] ??= { calls: 0, throttled: 0 });
      row.calls++;
      if (r.status === 429) row.throttled++;
    }
    const elapsedS = round((lastAt - t0) / 1000, 2);
    return {
      members: o.members,
      neverInstalled,
      instances: o.instances,
      loadAverage1m: round(load, 2),
      elapsedS,
      optimumS: round(optimumS, 1),
      optimumParts: Object.fromEntries(Object.entries(seconds).map(([k, v]) => [k, round(v, 1)])),
      ratio: round(elapsedS / optimumS, 3),
      graphCalls,
      graph429,
      graphShare429: round(graph429 / Math.max(1, graphCalls), 4),
      graphByRoute: byRoute,
      connectorCalls: connector.calls.length,
      connector429: connector.calls.filter((c) => c.status === 429).length,
      reached: reached(),
      lost: Math.max(0, o.members - Math.max(reached(), terminal)),
      duplicates: [...perChat.values()].filter((n) => n > 1).length,
      statuses,
      cpuShare,
      hostProblems: problems.length,
      hostProblemSample: problems.slice(0, 5),
    };
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
    await Promise.all([graph.stop(), connector.stop()]);
    await store.stop();
  }
}
