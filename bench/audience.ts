/**
 * Audience benchmark (issue 15): a stored tenant of 50,000 users and one `allUsers` job through the
 * local host as its own process (the real queue trigger, expansion and deliveries), against the
 * Teams-like connector enforcing Teams' per-tenant limit with time scaled as in the broadcast
 * benchmark. Measures expansion + fan-out time, the host's peak memory (VmHWM), the share of the
 * rate budget used, 429s, lost and duplicates.
 *
 * Alone: BENCH_ONLY=audience npm run bench (writes its section of RESULTS.md).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { deployDir } from '../scripts/deploy/layout.js';
import { startLocalHostProcess } from '../scripts/local-host/child.js';
import { tableClient } from '../shared/azureStorage/connection.js';
import { LazyTable } from '../shared/azureStorage/table.js';
import { TableConversationStore } from '../shared/azureStorage/tableConversationStore.js';
import { TableJobStore } from '../shared/azureStorage/tableJobStore.js';
import { enqueueNotification } from '../shared/jobs/producer.js';
import type { JobStatus } from '../functions/getNotification/jobStatus.js';
import { QueueClient } from '@azure/storage-queue';
import { met, round, sleep, teamsLimited } from './common.js';
import { startRamDiskAzurite } from './ramAzurite.js';
import { formatMarkdown, writeSection } from './results.js';
import { LANE_QUEUES } from '../shared/queues.js';
import { startFakeConnector, type FakeConnector } from '../test/support/fakeConnector.js';
import { seedUsers } from '../test/support/audience.js';

const TENANT = '11111111-2222-3333-4444-666666666666';
const BOT_ID = '28:00000000-0000-0000-0000-00000000b0b0';
const KEY = 'bench-key';

/** Peak and current resident memory of a process, from /proc (Linux). */
function memoryOf(pid: number | undefined): { peakMiB: number; rssMiB: number } | undefined {
  if (!pid) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
    return { peakMiB: round(kib('VmHWM') / 1024), rssMiB: round(kib('VmRSS') / 1024) };
  } catch {
    return undefined;
  }
}

interface Setup {
  root: string;
  connectionString: string;
  fake: FakeConnector;
  env: Record<string, string>;
}

/** Seeds a tenant of `count` users with open chats; returns their IDs and chat IDs. */
async function seedTenant(s: Setup, tenantId: string, count: number) {
  const userIds = Array.from(
    { length: count },
    (_, i) => `29:aud-${tenantId.slice(-4)}-${String(i).padStart(6, '0')}`,
  );
  const chatOf = (userId: string) => s.fake.conversationIdFor(tenantId, userId, BOT_ID);
  for (const userId of userIds) {
    s.fake.registerConversation(chatOf(userId), { tenantId, botId: BOT_ID, members: [{ id: userId }] });
  }
  const started = performance.now();
  await new TableConversationStore(
    new LazyTable(tableClient({ connectionString: s.connectionString }, 'Conversations')),
  ).saveTenant({ tenantId, serviceUrl: s.fake.url, botId: BOT_ID, userCount: count });
  await seedUsers({
    connectionString: s.connectionString,
    tenantId,
    serviceUrl: s.fake.url,
    userIds,
    source: 'personal',
    conversationIdOf: chatOf,
  });
  return { userIds, chatOf, seedSeconds: round((performance.now() - started) / 1000) };
}

/**
 * Phase A: expansion and fan-out alone. The deliveries function is disabled
 * (AzureWebJobs.notificationBulkDeliveries.Disabled: an audience job is bulk by default, so its
 * deliveries go to the bulk lane's queue) so the time is the expansion's, not the sends'; its window
 * is off (AUDIENCE_WINDOW=0), else it would queue only that many ahead of outcomes that never come.
 */
async function expansionPhase(s: Setup, users: number) {
  const seeded = await seedTenant(s, TENANT, users);
  console.log(`audience: seeded ${users} users in ${seeded.seedSeconds} s`);
  const host = await startLocalHostProcess({
    root: deployDir(s.root),
    port: 0,
    env: { ...s.env, 'AzureWebJobs.notificationBulkDeliveries.Disabled': 'true', AUDIENCE_WINDOW: '0' },
  });
  const jobs = new TableJobStore(
    new LazyTable(tableClient({ connectionString: s.connectionString }, 'Jobs')),
  );
  const started = performance.now();
  const { jobId } = await enqueueNotification(
    { tenantId: TENANT, recipients: [{ allUsers: true }], message: { text: 'Company-wide announcement' } },
    { connection: s.connectionString },
  );
  let expansionSeconds: number | undefined;
  let queued = 0;
  // Queued so far every 10 s: shows how the pace changes as the queue fills.
  const samples: Array<[seconds: number, queued: number]> = [];
  const deadline = Date.now() + Number(process.env.BENCH_AUDIENCE_TIMEOUT_S ?? 600) * 1000;
  while (Date.now() < deadline) {
    await sleep(200);
    const e = (await jobs.get(TENANT, jobId))?.expansion;
    queued = e?.queued ?? 0;
    const at = (performance.now() - started) / 1000;
    if (at >= (samples.length + 1) * 10) samples.push([Math.round(at), queued]);
    if (e?.done) {
      expansionSeconds = (performance.now() - started) / 1000;
      break;
    }
  }
  const memory = memoryOf(host.child.pid);
  await host.stop();
  const queue = new QueueClient(s.connectionString, LANE_QUEUES.bulk);
  const onQueue = (await queue.getProperties()).approximateMessagesCount ?? 0;
  console.log(`audience: ${queued} deliveries queued in ${round(expansionSeconds ?? NaN)} s`);
  return {
    users,
    seedSeconds: seeded.seedSeconds,
    expansionSeconds: expansionSeconds === undefined ? undefined : round(expansionSeconds, 2),
    queued,
    samples,
    onQueue,
    hostPeakMiB: memory?.peakMiB,
  };
}

/** Phase B: one allUsers job sent through the rate-limited connector, start to finish. */
async function deliveryPhase(s: Setup, users: number, tenantLimit: number) {
  const tenantId = TENANT.replace(/6666$/, '7777');
  const { userIds, chatOf } = await seedTenant(s, tenantId, users);
  const host = await startLocalHostProcess({ root: deployDir(s.root), port: 0, env: s.env });
  const callsBefore = Object.values(s.fake.byStatus).reduce((a, b) => a + b, 0);
  const throttledBefore = s.fake.byStatus[429] ?? 0;
  const acceptedBefore = s.fake.accepted.length;
  const started = performance.now();
  const { jobId } = await enqueueNotification(
    { tenantId, recipients: [{ allUsers: true }], message: { text: 'Company-wide announcement' } },
    { connection: s.connectionString },
  );
  let firstSendSeconds: number | undefined;
  let status: JobStatus | undefined;
  let statusReads = 0;
  let statusMs = 0;
  const deadline = Date.now() + Number(process.env.BENCH_AUDIENCE_TIMEOUT_S ?? 600) * 1000;
  while (Date.now() < deadline) {
    await sleep(250);
    if (firstSendSeconds === undefined && s.fake.accepted.length > acceptedBefore) {
      firstSendSeconds = (performance.now() - started) / 1000;
    }
    const t0 = performance.now();
    const res = await fetch(`${host.url}/api/notifications/${jobId}?tenantId=${tenantId}`, {
      headers: { 'x-functions-key': KEY },
    });
    status = res.ok ? ((await res.json()) as JobStatus) : undefined;
    statusMs += performance.now() - t0;
    statusReads += 1;
    if (status?.complete) break;
  }
  const seconds = (performance.now() - started) / 1000;
  const memory = memoryOf(host.child.pid);
  await host.stop();
  const perChat = new Map<string, number>();
  for (const a of s.fake.accepted.slice(acceptedBefore)) {
    perChat.set(a.conversationId, (perChat.get(a.conversationId) ?? 0) + 1);
  }
  const reached = userIds.filter((u) => perChat.has(chatOf(u))).length;
  // Messages Teams accepted in each second after the enqueue: the ramp, the steady pace, the tail.
  const perSecond: number[] = [];
  const enqueuedAt = Date.now() - seconds * 1000;
  for (const a of s.fake.accepted.slice(acceptedBefore)) {
    const i = Math.floor((a.at - enqueuedAt) / 1000);
    perSecond[i] = (perSecond[i] ?? 0) + 1;
  }
  const terminal = (status?.totals.failed ?? 0) + (status?.totals.skipped ?? 0);
  const calls = Object.values(s.fake.byStatus).reduce((a, b) => a + b, 0) - callsBefore;
  const throttled = (s.fake.byStatus[429] ?? 0) - throttledBefore;
  // The budget is used from the first send to the last outcome (expansion overlaps delivery).
  const sendingSeconds = seconds - (firstSendSeconds ?? 0);
  return {
    users,
    seconds: round(seconds, 1),
    firstSendSeconds: firstSendSeconds === undefined ? undefined : round(firstSendSeconds, 2),
    complete: status?.complete === true,
    totals: status?.totals,
    expansion: status?.expansion?.progress,
    hostPeakMiB: memory?.peakMiB,
    reached,
    achievedPerSecond: round(reached / sendingSeconds),
    shareOfBudget: round(reached / sendingSeconds / tenantLimit, 4),
    sendsPerSecond: Array.from(perSecond, (n) => n ?? 0),
    connectorCalls: calls,
    throttled429: throttled,
    share429: round(throttled / Math.max(1, calls), 5),
    lost: users - reached - terminal,
    duplicates: userIds.filter((u) => (perChat.get(chatOf(u)) ?? 0) > 1).length,
    statusReadMsAvg: round(statusMs / Math.max(1, statusReads)),
  };
}

export async function audienceBenchmark(root: string) {
  const USERS = Number(process.env.BENCH_AUDIENCE_USERS ?? 50_000);
  const RATE_USERS = Number(process.env.BENCH_AUDIENCE_RATE_USERS ?? 5_000);
  const RUNS = Math.max(1, Number(process.env.BENCH_AUDIENCE_RUNS ?? 3));
  const SCALE = Number(process.env.BENCH_BROADCAST_SCALE ?? 5);
  const TENANT_LIMIT = 50 * SCALE;
  const CONV_LIMIT = 7 * SCALE;
  const BATCH = process.env.BENCH_AUDIENCE_BATCH ?? '32';
  const HEAP_MB = process.env.BENCH_AUDIENCE_HEAP_MB ?? '160';
  const load = () => os.loadavg().map((n) => round(n, 2));
  const loadBefore = load();
  const fake = await startFakeConnector(teamsLimited(TENANT_LIMIT, CONV_LIMIT));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    FUNCTIONS_KEY: KEY,
    MicrosoftAppId: '',
    BOT_SERVICE_URL: fake.url,
    TENANT_RATE_PER_SECOND: String(TENANT_LIMIT),
    CONVERSATION_RATE_PER_SECOND: String(CONV_LIMIT),
    RECIPIENT_HOURLY_CAP: '100000',
    // Phase B's window of queued recipients (default: the app's); phase A turns it off.
    ...(process.env.BENCH_AUDIENCE_WINDOW ? { AUDIENCE_WINDOW: process.env.BENCH_AUDIENCE_WINDOW } : {}),
    AzureFunctionsJobHost__extensions__queues__maxPollingInterval: '00:00:00.5',
    // Deliveries in flight per host (batchSize + newBatchThreshold), to cover storage latency under load.
    AzureFunctionsJobHost__extensions__queues__batchSize: BATCH,
    AzureFunctionsJobHost__extensions__queues__newBatchThreshold: String(Number(BATCH) / 2),
    // V8 grows its heap lazily up to far more than an instance has; a cap makes it collect sooner
    // (in Azure: languageWorkers__node__arguments). 0 leaves Node's default.
    ...(HEAP_MB !== '0' ? { NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}` } : {}),
  };
  // Each phase on its own emulator (see ramAzurite.ts): phase B's queue then does
  // not hold the 50,000 messages phase A leaves behind.
  const onOwnAzurite = async <T>(phase: (s: Setup) => Promise<T>) => {
    const store = await startRamDiskAzurite('audience');
    const connectionString = store.connectionString;
    try {
      return await phase({
        root,
        connectionString,
        fake,
        env: { ...env, AzureWebJobsStorage: connectionString },
      });
    } finally {
      await store.stop();
    }
  };
  const expansion = await onOwnAzurite((s) => expansionPhase(s, USERS));
  const loadMid = load();
  // B's share swings a few points from run to run on a shared 2-core machine: the row is the median run's.
  const runs: Array<Awaited<ReturnType<typeof deliveryPhase>>> = [];
  for (let i = 0; i < RUNS; i++)
    runs.push(await onOwnAzurite((s) => deliveryPhase(s, RATE_USERS, TENANT_LIMIT)));
  const byShare = [...runs].sort((x, y) => x.shareOfBudget - y.shareOfBudget);
  const delivery = {
    ...byShare[Math.floor((byShare.length - 1) / 2)]!,
    // Whatever went wrong in any run counts.
    lost: Math.max(...runs.map((r) => r.lost)),
    duplicates: Math.max(...runs.map((r) => r.duplicates)),
    hostPeakMiB: Math.max(...runs.map((r) => r.hostPeakMiB ?? Infinity)),
  };
  const result = {
    timeScale: SCALE,
    tenantLimitPerSecond: TENANT_LIMIT,
    expansion,
    delivery,
    deliveryShares: runs.map((r) => r.shareOfBudget),
    loadAverage: { before: loadBefore, betweenPhases: loadMid, after: load() },
    hostBatchSize: Number(BATCH),
    hostHeapCapMiB: Number(HEAP_MB) || undefined,
    cores: os.cpus().length,
  };
  console.log(`audience: ${JSON.stringify(result)}`);
  await fake.stop();
  return result;
}

export type AudienceResult = Awaited<ReturnType<typeof audienceBenchmark>>;

export function audienceSection(r: AudienceResult, date: string): string {
  const a = r.expansion;
  const d = r.delivery;
  return `<!-- audience:start -->

## Audience: one \`allUsers\` job to a stored tenant of ${a.users} users

Command: \`BENCH_ONLY=audience npm run bench\` (or the whole \`npm run bench\`), run ${date}. Load average (1/5/15 min)
${r.loadAverage.before.join(' / ')} before, ${r.loadAverage.betweenPhases.join(' / ')} between the phases, ${r.loadAverage.after.join(' / ')} after, on ${r.cores} cores shared with other work.

| Measure | Result | Target | |
|---|---|---|---|
| A: all ${a.users} deliveries queued (enqueue of the job → expansion checkpoint \`done\`; ${a.queued} queued, ${a.onQueue} on the queue) | ${a.expansionSeconds !== undefined ? `${a.expansionSeconds} s` : 'not reached in the time allowed'} | ≤ 60 s | ${met((a.expansionSeconds ?? Infinity) <= 60)} |
| A: peak resident memory of the host process during the expansion (VmHWM) | ${a.hostPeakMiB ?? 'n/a'} MiB | ≤ 256 MB | ${met((a.hostPeakMiB ?? Infinity) * 1.048576 <= 256)} |
| B: ${d.users}-user \`allUsers\` job, share of the tenant budget used (${d.achievedPerSecond}/s of ${r.tenantLimitPerSecond}/s, first send to last outcome; median of ${r.deliveryShares.length} runs: ${r.deliveryShares.map((x) => `${round(x * 100, 1)} %`).join(', ')}) | ${round(d.shareOfBudget * 100, 1)} % | ≥ 90 % | ${met(d.shareOfBudget >= 0.9)} |
| B: connector calls answered 429 (${d.throttled429} of ${d.connectorCalls}) | ${round(d.share429 * 100, 2)} % | ≤ 1 % | ${met(d.share429 <= 0.01)} |
| B: lost (no accepted message and no failed/skipped outcome; the worst run) | ${d.lost} | 0 | ${met(d.lost === 0)} |
| B: duplicates (more than one message to a user; the worst run) | ${d.duplicates} | 0 | ${met(d.duplicates === 0)} |
| B: peak resident memory of the host process (expansion and deliveries; the highest run) | ${d.hostPeakMiB ?? 'n/a'} MiB | ≤ 256 MB | ${met((d.hostPeakMiB ?? Infinity) * 1.048576 <= 256)} |

- One local host process (\`dist/scripts/local-host.js\`: the real queue triggers, host.json settings) per phase,
  its own storage emulator (Table and Queue Storage as two Azurite processes: tables in memory, queues on disk in
  \`/dev/shm\`, removed afterwards; see \`bench/ramAzurite.ts\`), the Teams-like fake connector enforcing ${r.tenantLimitPerSecond} requests/s per app and tenant
  (Teams' 50/s with time scaled ${r.timeScale}×, as the broadcast row) with Retry-After on 429s; the host was configured
  with the same \`TENANT_RATE_PER_SECOND\`. Every user had a stored 1:1 chat (one connector call each). Seeding
  ${a.users} user rows took ${a.seedSeconds} s (not counted).
- **A** ran with the bulk lane's deliveries function disabled (\`AzureWebJobs.notificationBulkDeliveries.Disabled\`; an audience job is bulk by default) and its window off
  (\`AUDIENCE_WINDOW=0\`; B runs with the default window: about 10 s of the tenant's budget), so the time is the expansion's: pages of \`AUDIENCE_PAGE_SIZE\` (1000) \`user|\` rows, 16 recipients to a queue message (\`AUDIENCE_FANOUT_CONCURRENCY\`, 64,
  messages sent at once), a checkpoint on the job row after each page. Queued after (seconds, count): \`${JSON.stringify(a.samples)}\`.
- **B** is a second tenant of ${d.users} users on a fresh emulator (as A's), so its queue does not
  start with the ${a.onQueue} messages A left behind; it runs ${r.deliveryShares.length} times (\`BENCH_AUDIENCE_RUNS\`), each on a
  fresh emulator, and the figures below are the median run's.
  Whole job ${d.seconds} s (first message after ${d.firstSendSeconds ?? '?'} s); messages Teams accepted in each
  second from the enqueue: \`${JSON.stringify(d.sendsPerSecond)}\`; final status ${JSON.stringify(d.totals)} (${d.expansion}).
  Status reads during delivery (totals from 64 counter rows + one page of records) took ${d.statusReadMsAvg} ms on average.
- Host settings: queue \`batchSize\` ${r.hostBatchSize} (newBatchThreshold half of it), V8 old space capped at
  ${r.hostHeapCapMiB ?? 'Node default'} MiB (\`NODE_OPTIONS=--max-old-space-size\`; in Azure \`languageWorkers__node__arguments\`).

<!-- audience:end -->`;
}

/** Runs it and writes its section of RESULTS.md and bench/audience-results.json (run alone or in the whole run). */
export async function audienceResults(root: string): Promise<void> {
  const result = await audienceBenchmark(root);
  const file = join(root, 'bench', 'RESULTS.md');
  writeSection(file, 'audience', audienceSection(result, new Date().toISOString()));
  await formatMarkdown(file);
  writeFileSync(join(root, 'bench', 'audience-results.json'), JSON.stringify(result, null, 2) + '\n');
}
