/**
 * Lanes benchmark (issue 24): while one 6,000-person first-contact bulk job (a team audience) drains,
 * 30 single-recipient urgent jobs and 30 three-recipient normal jobs arrive at random moments. Through
 * the real path: POST /api/notifications on 3 local-host processes (the bundled app) sharing one
 * Azurite, and the Teams-like connector enforcing Teams' limits (50/s per app and tenant, 7/s per chat,
 * 429 with Retry-After). Measures each small job's wait from its POST to Teams' acceptance, the bulk
 * job's share of the budget, 429s, lost and duplicates.
 *
 * Runs unchanged on a checkout of an older commit (bench/RESULTS.md says how): a commit whose job
 * schema has no `priority` gets the same jobs without it.
 *
 * Alone: BENCH_ONLY=lanes npm run bench (writes its section of RESULTS.md).
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { deployDir } from '../scripts/deploy/layout.js';
import { startLocalHostProcess, type LocalHostProcess } from '../scripts/local-host/child.js';
import { tableClient } from '../shared/azureStorage/connection.js';
import { LazyTable } from '../shared/azureStorage/table.js';
import { TableConversationStore } from '../shared/azureStorage/tableConversationStore.js';
import { TableDeliveryRecordStore } from '../shared/azureStorage/tableDeliveryRecordStore.js';
import { seededRandom, startFakeConnector, type FakeConnector } from '../test/support/fakeConnector.js';
import { seedMembers, seedUsers } from '../test/support/audience.js';
import { busiestWindow } from '../test/support/windows.js';
import { cpuSecondsOfTree } from './cpu.js';
import { startRamDiskAzurite } from './ramAzurite.js';

const TENANT = '11111111-2222-3333-4444-888888888888';
const TEAM = '19:lanes-bench@thread.tacv2';
const BOT_ID = '28:00000000-0000-0000-0000-00000000b0b0';
const KEY = 'bench-key';
const TENANT_LIMIT = 50;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

export interface LanesOptions {
  root: string;
  bulkRecipients: number;
  urgentJobs: number;
  normalJobs: number;
  normalSize: number;
  instances: number;
  /** Seed of the arrival times. */
  seed: number;
}

/** Whether the checkout's job contract has `priority` (an older commit's has not). */
export function knowsPriority(root: string): boolean {
  const file = join(root, 'shared', 'jobs', 'notification-job.v1.schema.json');
  if (!existsSync(file)) return false;
  const schema = JSON.parse(readFileSync(file, 'utf8')) as { properties?: Record<string, unknown> };
  return !!schema.properties?.priority;
}

const percentile = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};

interface SmallJob {
  kind: 'urgent' | 'normal';
  at: number;
  userIds: string[];
  postedAt?: number;
  jobId?: string;
  status?: number;
}

export async function lanesBenchmark(o: LanesOptions) {
  const store = await startRamDiskAzurite('lanes');
  const fake = await startFakeConnector({
    rateLimits: {
      perAppTenant: [{ limit: TENANT_LIMIT, windowMs: 1000 }],
      perConversation: [{ limit: 7, windowMs: 1000 }],
      retryAfter: true,
    },
  });
  let hosts: LocalHostProcess[] = [];
  try {
    return await run(o, store, fake, (h) => (hosts = h));
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
    await fake.stop();
    await store.stop();
  }
}

async function run(
  o: LanesOptions,
  store: Awaited<ReturnType<typeof startRamDiskAzurite>>,
  fake: FakeConnector,
  started: (hosts: LocalHostProcess[]) => void,
) {
  const { connectionString } = store;
  const priority = knowsPriority(o.root);
  const id = (prefix: string, n: number) => `29:lanes-${prefix}-${String(n).padStart(5, '0')}`;
  const bulk = Array.from({ length: o.bulkRecipients }, (_, i) => id('bulk', i));
  // Seeded, so both commits get the same arrival times.
  const rand = seededRandom(o.seed);
  // Arrivals spread over the first 85 % of the bulk job's ideal drain (2 calls per recipient).
  const drainS = (2 * o.bulkRecipients) / TENANT_LIMIT;
  const arrival = () => Math.round((5 + rand() * (drainS * 0.85 - 5)) * 1000);
  const small: SmallJob[] = [
    ...Array.from({ length: o.urgentJobs }, (_, j) => ({
      kind: 'urgent' as const,
      at: arrival(),
      userIds: [id('urgent', j)],
    })),
    ...Array.from({ length: o.normalJobs }, (_, j) => ({
      kind: 'normal' as const,
      at: arrival(),
      userIds: Array.from({ length: o.normalSize }, (_, k) => id('normal', j * o.normalSize + k)),
    })),
  ].sort((a, b) => a.at - b.at);

  // Everyone is stored (from the team's roster) without a chat: first contact, a createConversation
  // and a send each.
  const conversations = new TableConversationStore(
    new LazyTable(tableClient({ connectionString }, 'Conversations')),
  );
  await conversations.saveTenant({ tenantId: TENANT, serviceUrl: fake.url, botId: BOT_ID });
  const seed = { connectionString, tenantId: TENANT, serviceUrl: fake.url };
  await seedUsers({ ...seed, userIds: bulk, source: `team:${TEAM}` });
  await seedUsers({
    ...seed,
    userIds: small.flatMap((j) => j.userIds),
    source: 'team:19:other@thread.tacv2',
  });
  await seedMembers(connectionString, TENANT, TEAM, bulk);
  await conversations.saveTeam({
    tenantId: TENANT,
    teamId: TEAM,
    serviceUrl: fake.url,
    installed: true,
    memberCount: bulk.length,
    rosterSyncedAt: new Date().toISOString(),
  });

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AzureWebJobsStorage: connectionString,
    FUNCTIONS_KEY: KEY,
    MicrosoftAppId: '',
    BOT_SERVICE_URL: fake.url,
    RECIPIENT_HOURLY_CAP: '100000',
  };
  delete env.APPLICATIONINSIGHTS_CONNECTION_STRING;
  const problems: string[] = [];
  const hosts = await Promise.all(
    Array.from({ length: o.instances }, () =>
      startLocalHostProcess({
        root: deployDir(o.root),
        port: 0,
        env,
        onLine: (line) => {
          if (/MicrosoftAppId is not set|Poison: queue/.test(line)) return;
          if (/warn|error|fail|poison/i.test(line) && problems.length < 100)
            problems.push(line.slice(0, 300));
        },
      }),
    ),
  );
  started(hosts);
  let next = 0;
  const post = async (job: Record<string, unknown>) => {
    const host = hosts[next++ % hosts.length]!;
    const res = await fetch(`${host.url}/api/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-functions-key': KEY },
      body: JSON.stringify(job),
    });
    const body = (await res.json()) as { jobId?: string };
    return { status: res.status, jobId: body.jobId };
  };

  const load = os.loadavg()[0]!;
  const cpu = () => store.cpuSeconds() + hosts.reduce((a, h) => a + (cpuSecondsOfTree(h.child.pid) ?? 0), 0);
  const cpu0 = cpu();
  const t0 = Date.now();
  const bulkJob = await post({
    tenantId: TENANT,
    recipients: [{ teamId: TEAM }],
    message: { text: 'Everyone: the quarterly all-hands moved to Thursday' },
    ...(priority ? { priority: 'bulk' } : {}),
  });
  if (bulkJob.status !== 202) throw new Error(`bulk job not accepted: ${bulkJob.status}`);
  await Promise.all(
    small.map(async (job) => {
      await sleep(t0 + job.at - Date.now());
      job.postedAt = Date.now();
      const answer = await post({
        tenantId: TENANT,
        recipients: job.userIds.map((userId) => ({ userId })),
        message: {
          text: job.kind === 'urgent' ? 'Sev 1: checkout is down, join the bridge' : 'Build 42 is green',
        },
        ...(priority ? { priority: job.kind } : {}),
      });
      Object.assign(job, answer);
    }),
  );

  const chatOf = (userId: string) => fake.conversationIdFor(TENANT, userId, BOT_ID);
  const everyone = [...bulk, ...small.flatMap((j) => j.userIds)];
  const chats = new Set(everyone.map(chatOf));
  const reached = () =>
    new Set(fake.accepted.filter((a) => chats.has(a.conversationId)).map((a) => a.conversationId)).size;
  const deadline = t0 + drainS * 3000 + 60_000;
  while (reached() < everyone.length && Date.now() < deadline) await sleep(500);
  await sleep(3000); // late duplicates would show
  const runS = (Date.now() - t0) / 1000;
  const cpuShare = round((cpu() - cpu0) / runS, 2);

  const firstAccepted = new Map<string, { at: number; alert: boolean }>();
  const perChat = new Map<string, number>();
  for (const a of fake.accepted) {
    if (!chats.has(a.conversationId)) continue;
    perChat.set(a.conversationId, (perChat.get(a.conversationId) ?? 0) + 1);
    if (!firstAccepted.has(a.conversationId)) {
      const channelData = a.body.channelData as { notification?: { alert?: boolean } } | undefined;
      firstAccepted.set(a.conversationId, { at: a.at, alert: channelData?.notification?.alert === true });
    }
  }
  const waits = (kind: SmallJob['kind']) =>
    small
      .filter((j) => j.kind === kind)
      .flatMap((j) => j.userIds.map((u) => (firstAccepted.get(chatOf(u))?.at ?? NaN) - j.postedAt!))
      .filter((w) => Number.isFinite(w));
  const summary = (xs: number[]) => ({
    n: xs.length,
    p50S: round(percentile(xs, 50) / 1000, 2),
    p95S: round(percentile(xs, 95) / 1000, 2),
    maxS: round(Math.max(...xs) / 1000, 2),
  });
  const urgent = summary(waits('urgent'));
  const normal = summary(waits('normal'));

  // The bulk job's calls: every call that did not go to a small job's chat or open it.
  const smallUsers = new Set(small.flatMap((j) => j.userIds));
  const smallChats = new Set([...smallUsers].map(chatOf));
  const isSmall = (c: (typeof fake.calls)[number]) =>
    c.route === 'createConversation'
      ? smallUsers.has(String((c.body as { members?: Array<{ id?: string }> }).members?.[0]?.id))
      : smallChats.has(c.conversationId ?? '');
  const admitted = fake.calls.filter((c) => c.status >= 200 && c.status < 300);
  const bulkCalls = admitted.filter((c) => !isSmall(c)).map((c) => c.at);
  const bulkFirst = Math.min(...bulkCalls);
  const bulkLast = Math.max(...bulkCalls);
  const bulkSpanS = (bulkLast - bulkFirst) / 1000;
  const records = await new TableDeliveryRecordStore(
    new LazyTable(tableClient({ connectionString }, 'Conversations')),
  ).listForJob(TENANT, bulkJob.jobId!);
  const terminal = records.filter((r) => ['sent', 'failed', 'skipped'].includes(r.status)).length;
  const reachedBulk = bulk.filter((u) => firstAccepted.has(chatOf(u))).length;
  const calls = fake.calls.length;
  const throttled = fake.calls.filter((c) => c.status === 429).length;
  const result = {
    priority,
    instances: o.instances,
    loadAverage1m: round(load, 2),
    loadAverageEnd1m: round(os.loadavg()[0]!, 2),
    bulkRecipients: o.bulkRecipients,
    urgentJobs: o.urgentJobs,
    normalJobs: o.normalJobs,
    normalSize: o.normalSize,
    smallRefused: small.filter((j) => j.status !== 202).length,
    urgent,
    normal,
    urgentAlerted: small
      .filter((j) => j.kind === 'urgent')
      .filter((j) => firstAccepted.get(chatOf(j.userIds[0]!))?.alert).length,
    bulk: {
      elapsedS: round((bulkLast - t0) / 1000, 2),
      optimumS: drainS,
      spanS: round(bulkSpanS, 2),
      calls: bulkCalls.length,
      // Its calls per second over its own span, against the tenant's 50.
      shareOfBudget: round(bulkCalls.length / bulkSpanS / TENANT_LIMIT, 4),
      reached: reachedBulk,
      terminal,
    },
    allCallsShareOfBudget: round(admitted.length / bulkSpanS / TENANT_LIMIT, 4),
    busiestSecond: busiestWindow(admitted.map((c) => c.at)),
    calls,
    throttled429: throttled,
    lost:
      Math.max(0, bulk.length - Math.max(reachedBulk, terminal)) +
      [...smallUsers].filter((u) => !firstAccepted.has(chatOf(u))).length,
    duplicates: [...perChat.values()].filter((n) => n > 1).length,
    cpuShare,
    hostProblems: problems.length,
    hostProblemSample: problems.slice(0, 5),
  };
  return result;
}
