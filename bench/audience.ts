/**
 * Audience benchmark (issue 15): a stored tenant of 50,000 users and one `allUsers` job through the
 * local host as its own process (the real queue trigger, expansion and deliveries), against the
 * Teams-like connector enforcing Teams' per-tenant limit with time scaled as in the broadcast
 * benchmark. Measures expansion + fan-out time, the host's peak memory (VmHWM), the share of the
 * rate budget used, 429s, lost and duplicates.
 *
 * Alone: BENCH_ONLY=audience npm run bench (writes its section of RESULTS.md).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { startLocalHostProcess } from '../scripts/local-host/child.js';
import { tableClient } from '../shared/azureStorage/connection.js';
import { LazyTable } from '../shared/azureStorage/table.js';
import { TableConversationStore } from '../shared/azureStorage/tableConversationStore.js';
import { TableJobStore } from '../shared/azureStorage/tableJobStore.js';
import { enqueueNotification } from '../shared/jobs/producer.js';
import type { JobStatus } from '../functions/getNotification/jobStatus.js';
import { startFakeConnector } from '../test/support/fakeConnector.js';
import { seedUsers } from '../test/support/audience.js';

const TENANT = '11111111-2222-3333-4444-666666666666';
const BOT_ID = '28:00000000-0000-0000-0000-00000000b0b0';
const KEY = 'bench-key';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

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

export async function audienceBenchmark(root: string, connectionString: string) {
  const USERS = Number(process.env.BENCH_AUDIENCE_USERS ?? 50_000);
  const SCALE = Number(process.env.BENCH_BROADCAST_SCALE ?? 5);
  const TENANT_LIMIT = 50 * SCALE;
  const CONV_LIMIT = 7 * SCALE;
  const BATCH = process.env.BENCH_AUDIENCE_BATCH ?? '32';
  const HEAP_MB = process.env.BENCH_AUDIENCE_HEAP_MB ?? '160';
  const load = () => os.loadavg().map((n) => round(n, 2));
  const loadBefore = load();
  const fake = await startFakeConnector({
    rateLimits: {
      perAppTenant: [{ limit: TENANT_LIMIT, windowMs: 1000 }],
      perConversation: [{ limit: CONV_LIMIT, windowMs: 1000 }],
      retryAfter: true,
    },
    recordCalls: false,
  });
  const userIds = Array.from({ length: USERS }, (_, i) => `29:aud-bench-${String(i).padStart(6, '0')}`);
  const chatOf = (userId: string) => fake.conversationIdFor(TENANT, userId, BOT_ID);
  for (const userId of userIds) {
    fake.registerConversation(chatOf(userId), { tenantId: TENANT, botId: BOT_ID, members: [{ id: userId }] });
  }
  const seedStart = performance.now();
  await new TableConversationStore(
    new LazyTable(tableClient({ connectionString }, 'Conversations')),
  ).saveTenant({
    tenantId: TENANT,
    serviceUrl: fake.url,
    botId: BOT_ID,
    userCount: USERS,
  });
  await seedUsers({
    connectionString,
    tenantId: TENANT,
    serviceUrl: fake.url,
    userIds,
    source: 'personal',
    conversationIdOf: chatOf,
  });
  const seedSeconds = round((performance.now() - seedStart) / 1000);
  console.log(`audience: seeded ${USERS} users in ${seedSeconds} s`);

  const host = await startLocalHostProcess({
    root,
    port: 0,
    env: {
      PATH: process.env.PATH ?? '',
      AzureWebJobsStorage: connectionString,
      FUNCTIONS_KEY: KEY,
      MicrosoftAppId: '',
      BOT_SERVICE_URL: fake.url,
      TENANT_RATE_PER_SECOND: String(TENANT_LIMIT),
      CONVERSATION_RATE_PER_SECOND: String(CONV_LIMIT),
      RECIPIENT_HOURLY_CAP: '100000',
      AzureFunctionsJobHost__extensions__queues__maxPollingInterval: '00:00:00.5',
      // More deliveries in flight than host.json's 16 + 8, to cover storage latency under load.
      AzureFunctionsJobHost__extensions__queues__batchSize: BATCH,
      AzureFunctionsJobHost__extensions__queues__newBatchThreshold: String(Number(BATCH) / 2),
      // V8 grows its heap lazily up to far more than an instance has; a cap makes it collect sooner
      // (in Azure: languageWorkers__node__arguments). 0 leaves Node's default.
      ...(HEAP_MB !== '0' ? { NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}` } : {}),
    },
  });
  const pid = host.child.pid;
  const jobs = new TableJobStore(new LazyTable(tableClient({ connectionString }, 'Jobs')));
  const started = performance.now();
  const { jobId } = await enqueueNotification(
    { tenantId: TENANT, recipients: [{ allUsers: true }], message: { text: 'Company-wide announcement' } },
    { connection: connectionString },
  );
  let expansionSeconds: number | undefined;
  let firstSendSeconds: number | undefined;
  let status: JobStatus | undefined;
  const deadline = Date.now() + Number(process.env.BENCH_AUDIENCE_TIMEOUT_S ?? 600) * 1000;
  let statusReads = 0;
  let statusMs = 0;
  while (Date.now() < deadline) {
    await sleep(250);
    const elapsed = (performance.now() - started) / 1000;
    if (firstSendSeconds === undefined && fake.accepted.length > 0) firstSendSeconds = elapsed;
    if (expansionSeconds === undefined) {
      const e = (await jobs.get(jobId))?.expansion;
      if (e?.done) {
        expansionSeconds = elapsed;
        console.log(`audience: ${e.queued} deliveries queued in ${round(elapsed)} s`);
      }
      continue;
    }
    const t0 = performance.now();
    const res = await fetch(`${host.url}/api/notifications/${jobId}`, {
      headers: { 'x-functions-key': KEY },
    });
    status = (await res.json()) as JobStatus;
    statusMs += performance.now() - t0;
    statusReads += 1;
    if (status.complete) break;
  }
  const seconds = (performance.now() - started) / 1000;
  const memory = memoryOf(pid);
  await host.stop();

  const perChat = new Map<string, number>();
  for (const a of fake.accepted) perChat.set(a.conversationId, (perChat.get(a.conversationId) ?? 0) + 1);
  const reached = userIds.filter((u) => perChat.has(chatOf(u))).length;
  const duplicates = userIds.filter((u) => (perChat.get(chatOf(u)) ?? 0) > 1).length;
  const terminal = (status?.totals.failed ?? 0) + (status?.totals.skipped ?? 0);
  const calls = Object.values(fake.byStatus).reduce((a, b) => a + b, 0);
  const throttled = fake.byStatus[429] ?? 0;
  // The budget is used from the first send to the last: expansion overlaps delivery.
  const sendingSeconds = seconds - (firstSendSeconds ?? 0);
  const result = {
    users: USERS,
    timeScale: SCALE,
    tenantLimitPerSecond: TENANT_LIMIT,
    seedSeconds,
    expansionSeconds: expansionSeconds === undefined ? undefined : round(expansionSeconds, 2),
    firstSendSeconds: firstSendSeconds === undefined ? undefined : round(firstSendSeconds, 2),
    seconds: round(seconds, 1),
    complete: status?.complete === true,
    totals: status?.totals,
    expansion: status?.expansion?.progress,
    hostPeakMiB: memory?.peakMiB,
    hostRssAtEndMiB: memory?.rssMiB,
    reached,
    achievedPerSecond: round(reached / sendingSeconds),
    shareOfBudget: round(reached / sendingSeconds / TENANT_LIMIT, 4),
    connectorCalls: calls,
    throttled429: throttled,
    share429: round(throttled / Math.max(1, calls), 5),
    lost: USERS - reached - terminal,
    duplicates,
    statusReadMsAvg: round(statusMs / Math.max(1, statusReads)),
    loadAverage: { before: loadBefore, after: load() },
    hostBatchSize: Number(BATCH),
    hostHeapCapMiB: Number(HEAP_MB) || undefined,
    cores: os.cpus().length,
  };
  console.log(`audience: ${JSON.stringify(result)}`);
  await fake.stop();
  return result;
}

export type AudienceResult = Awaited<ReturnType<typeof audienceBenchmark>>;

const met = (ok: boolean) => (ok ? 'met' : '**not met**');

export function audienceSection(a: AudienceResult, date: string): string {
  return `<!-- audience:start -->

## Audience: one \`allUsers\` job to a stored tenant of ${a.users} users

Command: \`BENCH_ONLY=audience npm run bench\` (or the whole \`npm run bench\`), run ${date}. Load average (1/5/15 min) ${a.loadAverage.before.join(' / ')} before, ${a.loadAverage.after.join(' / ')} after, ${a.cores} cores shared with other work.

| Measure | Result | Target | |
|---|---|---|---|
| All ${a.users} deliveries queued (enqueue of the job → expansion checkpoint \`done\`) | ${a.expansionSeconds ?? 'not reached'} s | ≤ 60 s | ${met((a.expansionSeconds ?? Infinity) <= 60)} |
| Peak resident memory of the host process (VmHWM, whole run) | ${a.hostPeakMiB ?? 'n/a'} MiB | ≤ 256 MB | ${met((a.hostPeakMiB ?? Infinity) * 1.048576 <= 256)} |
| Share of the tenant budget used (${a.achievedPerSecond}/s of ${a.tenantLimitPerSecond}/s, first send to last outcome) | ${round(a.shareOfBudget * 100, 1)} % | ≥ 90 % | ${met(a.shareOfBudget >= 0.9)} |
| Connector calls answered 429 (${a.throttled429} of ${a.connectorCalls}) | ${round(a.share429 * 100, 2)} % | ≤ 1 % | ${met(a.share429 <= 0.01)} |
| Lost (no accepted message and no failed/skipped outcome) | ${a.lost} | 0 | ${met(a.lost === 0)} |
| Duplicates (more than one message to a user) | ${a.duplicates} | 0 | ${met(a.duplicates === 0)} |

- One local host process (\`dist/scripts/local-host.js\`, the real queue triggers and host.json batch settings) did the
  expansion and every delivery, against an in-memory Azurite and the Teams-like fake connector enforcing
  ${a.tenantLimitPerSecond} requests/s per app and tenant (Teams' 50/s with time scaled ${a.timeScale}×, as the broadcast row) with
  Retry-After on 429s; the host was configured with the same \`TENANT_RATE_PER_SECOND\`. Every user had a stored 1:1 chat
  (one connector call each). Seeding ${a.users} user rows took ${a.seedSeconds} s (not counted).
- Expansion read the tenant's \`user|\` rows in pages of \`AUDIENCE_PAGE_SIZE\` (1000) and queued each page with
  \`AUDIENCE_FANOUT_CONCURRENCY\` (64) sends, a checkpoint on the job row after each page; deliveries started while it ran
  (first message after ${a.firstSendSeconds ?? '?'} s). Whole job ${a.seconds} s; final status ${JSON.stringify(a.totals)} (${a.expansion}).
- Status reads during delivery (totals from 16 counter rows + one page of records) took ${a.statusReadMsAvg} ms on average.
- Host memory at the end ${a.hostRssAtEndMiB ?? 'n/a'} MiB resident; host settings: queue \`batchSize\` ${a.hostBatchSize}
  (newBatchThreshold half of it), V8 old space capped at ${a.hostHeapCapMiB ?? 'Node default'} MiB (\`NODE_OPTIONS=--max-old-space-size\`).

<!-- audience:end -->`;
}
