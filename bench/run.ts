/**
 * Delivery benchmark: throughput with an instant connector, storage transactions and connector calls
 * per DM, and a rate-limited 10,000-recipient broadcast. Starts its own in-memory Azurite (the scale-out runs each start an on-disk one) and hosts the
 * Teams-like fake connector from test/support (compiled for the bench only: tsconfig.bench.json).
 *
 * Run: npm run bench  →  writes bench/RESULTS.md and bench/results.json.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pMap from 'p-map';
import { loadConfig, type AppConfig } from '../shared/config.js';
import { buildServices, type Services } from '../shared/container.js';
import type { AttemptContext, DeliveryTask } from '../shared/delivery/task.js';
import { recipientKeyString } from '../shared/jobs/recipient.js';
import { DEPLOY_DIR, deployDir } from '../scripts/deploy/layout.js';
import { startLocalHostProcess } from '../scripts/local-host/child.js';
import { startAzurite } from '../scripts/sandbox/azurite.js';
import { startFakeConnector, type FakeConnector } from '../test/support/fakeConnector.js';
import { seedChatUsers } from '../test/support/chatUsers.js';
import { cpuSecondsOf } from './cpu.js';
import { scaleOut } from './scaleOut.js';
import { formatMarkdown, writeBody, writeSection } from './results.js';
import { audienceBenchmark, audienceSection } from './audience.js';
import { deployZipResults } from './deployZip.js';
import { handlers } from './requestHandlers.js';
import { graphBench } from './graphSection.js';
import { countStorageRequests, type RequestCounter } from './storageRequests.js';

type StartFake = typeof startFakeConnector;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TENANT = '11111111-2222-3333-4444-555555555555';
const BOT_ID = '28:00000000-0000-0000-0000-00000000b0b0';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const calls = (fake: FakeConnector) => Object.values(fake.byStatus).reduce((a, b) => a + b, 0);
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

// ---- Azurite (the sandbox's launcher) ------------------------------------------------------------
let azuritePid: number | undefined;
const azuriteCpuSeconds = () => cpuSecondsOf(azuritePid);
const ownCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** Stops the limiter's timers if this version of DeliveryRateLimiter has a stop(). */
async function stopLimiter(s: Services): Promise<void> {
  await (s.limiter as unknown as { stop?: () => Promise<void> }).stop?.();
  s.budget?.stop();
}

// ---- helpers ---------------------------------------------------------------------------------------
function services(
  fake: FakeConnector,
  tenantRatePerSecond: number,
  conversationRatePerSecond: number,
): Services {
  const config: AppConfig = {
    ...loadConfig(process.env),
    tenantRatePerSecond,
    conversationRatePerSecond,
    recipientHourlyCap: 100_000,
    defaultServiceUrl: fake.url,
  };
  // No MicrosoftAppId: the app's own HttpBotConnector calls the fake without a token.
  return buildServices(config);
}

interface Seeded {
  userId: string;
  recipient: string;
  conversationId: string | undefined;
}

let userSeq = 0;
async function seedUsers(
  s: Services,
  fake: FakeConnector,
  count: number,
  withChat: boolean,
): Promise<Seeded[]> {
  const ids = Array.from({ length: count }, () => `29:bench-user-${++userSeq}-${randomUUID().slice(0, 8)}`);
  const seeded = await seedChatUsers({
    conversations: s.conversations,
    fake,
    tenantId: TENANT,
    botId: BOT_ID,
    userIds: ids,
    source: 'team:bench',
    withChat,
    name: (userId) => `Bench ${userId}`,
    concurrency: 32,
  });
  return seeded.map(({ userId, conversationId }) => ({
    userId,
    recipient: recipientKeyString({ kind: 'userId', value: userId }),
    conversationId,
  }));
}

function task(jobId: string, recipient: string): DeliveryTask {
  return {
    v: 1,
    jobId,
    tenantId: TENANT,
    recipient,
    message: { text: 'Benchmark notification' },
    acceptedAt: new Date().toISOString(),
    reschedules: 0,
  };
}

const attempt = (): AttemptContext => ({ claimToken: randomUUID(), dequeueCount: 1, maxDequeueCount: 5 });

// ---- 1. throughput ---------------------------------------------------------------------------------
async function throughput(startFake: StartFake) {
  const fake = await startFake({ rateLimits: false, recordCalls: false });
  const s = services(fake, 1000, 100);
  const TASKS = 2000;
  const CONCURRENCY = 32;
  const users = await seedUsers(s, fake, TASKS, true);
  const run = async (jobId: string) => {
    const statuses: Record<string, number> = {};
    const cpu0 = [ownCpuSeconds(), azuriteCpuSeconds()];
    const started = performance.now();
    await pMap(
      users,
      async (u) => {
        const r = await s.delivery.deliver(task(jobId, u.recipient), attempt());
        const k = r.kind === 'done' ? r.status : r.kind;
        statuses[k] = (statuses[k] ?? 0) + 1;
      },
      { concurrency: CONCURRENCY },
    );
    const seconds = (performance.now() - started) / 1000;
    const az = azuriteCpuSeconds();
    const cpu = {
      benchProcessCpuShare: round((ownCpuSeconds() - cpu0[0]!) / seconds, 2),
      azuriteCpuShare: az === undefined || cpu0[1] === undefined ? null : round((az - cpu0[1]) / seconds, 2),
    };
    return { seconds, statuses, cpu };
  };
  const warm = await run(`bench-warm-${Date.now()}`);
  const loadAverage1m = round(os.loadavg()[0]!, 2);
  const timed = await run(`bench-tput-${Date.now()}`);
  const perSecond = TASKS / timed.seconds;
  console.log(
    `throughput: ${round(perSecond)} deliveries/s (${JSON.stringify(timed.statuses)}); shared budget ${JSON.stringify(s.budget?.stats)}, times given up late ${s.limiter.droppedTimes}`,
  );
  return {
    fake,
    s,
    users,
    result: {
      tasks: TASKS,
      concurrency: CONCURRENCY,
      seconds: round(timed.seconds, 2),
      perSecond: round(perSecond),
      loadAverage1m,
      statuses: timed.statuses,
      warmUpPerSecond: round(TASKS / warm.seconds),
      warmUpStatuses: warm.statuses,
      cpu: timed.cpu,
      budget: s.budget ? { ...s.budget.stats } : null,
      droppedTimes: s.limiter.droppedTimes,
    },
  };
}

// ---- 2. cost per DM --------------------------------------------------------------------------------
async function measureOne(s: Services, fake: FakeConnector, jobId: string, recipient: string) {
  const counter: RequestCounter = { table: 0, queue: 0 };
  const before = calls(fake);
  countStorageRequests(counter);
  const r = await s.delivery.deliver(task(jobId, recipient), attempt());
  countStorageRequests(undefined);
  return {
    storage: counter.table + counter.queue,
    table: counter.table,
    queue: counter.queue,
    connector: calls(fake) - before,
    status: r.kind === 'done' ? r.status : r.kind,
  };
}

async function sample(label: string, s: Services, fake: FakeConnector, recipients: string[]) {
  const jobId = `bench-cost-${label}-${Date.now()}`;
  const rows: Awaited<ReturnType<typeof measureOne>>[] = [];
  for (const r of recipients) rows.push(await measureOne(s, fake, jobId, r));
  const avg = (f: (x: (typeof rows)[number]) => number) =>
    round(rows.reduce((a, x) => a + f(x), 0) / rows.length, 2);
  const out = {
    samples: rows.length,
    storageAvg: avg((x) => x.storage),
    storageMin: Math.min(...rows.map((x) => x.storage)),
    storageMax: Math.max(...rows.map((x) => x.storage)),
    connectorAvg: avg((x) => x.connector),
    statuses: [...new Set(rows.map((x) => x.status))],
  };
  console.log(`cost ${label}: ${JSON.stringify(out)}`);
  return out;
}

async function costPerDm(fake: FakeConnector, warmService: Services, warmUsers: Seeded[]) {
  const N = 20;
  // (a) warm: users this instance just delivered to (in-process user cache holds them).
  const knownWarm = await sample(
    'known-warm',
    warmService,
    fake,
    warmUsers.slice(0, N).map((u) => u.recipient),
  );
  // (a) cold: chat stored, but this instance has not seen the user (e.g. after a restart or on another instance).
  const coldUsers = await seedUsers(warmService, fake, N, true);
  const knownCold = await sample(
    'known-cold',
    warmService,
    fake,
    coldUsers.map((u) => u.recipient),
  );
  // (b) first contact: no chat stored yet; the instance has already delivered in this tenant.
  const newUsers = await seedUsers(warmService, fake, N, false);
  const firstContact = await sample(
    'first-contact',
    warmService,
    fake,
    newUsers.map((u) => u.recipient),
  );
  // (b) first contact on a brand-new instance (tenant's bot ID not cached yet); one sample per instance.
  const freshUsers = await seedUsers(warmService, fake, 5, false);
  const freshRows: Awaited<ReturnType<typeof measureOne>>[] = [];
  for (const u of freshUsers) {
    const fresh = services(fake, 1000, 100);
    await fresh.conversations.getTenant(TENANT); // lets the lazy table client settle outside the measurement
    freshRows.push(await measureOne(fresh, fake, `bench-cost-fresh-${Date.now()}`, u.recipient));
  }
  const firstContactNewInstance = {
    samples: freshRows.length,
    storageAvg: round(freshRows.reduce((a, x) => a + x.storage, 0) / freshRows.length, 2),
    connectorAvg: round(freshRows.reduce((a, x) => a + x.connector, 0) / freshRows.length, 2),
    statuses: [...new Set(freshRows.map((x) => x.status))],
  };
  console.log(`cost first-contact-new-instance: ${JSON.stringify(firstContactNewInstance)}`);
  return { knownWarm, knownCold, firstContact, firstContactNewInstance };
}

// ---- 3. broadcast ----------------------------------------------------------------------------------
async function broadcast(startFake: StartFake, opts: { scale?: number; recipients?: number } = {}) {
  // Teams' limits sped up so 10,000 recipients take under a minute; at 5× (250/s) the run measures the
  // limiter's use of the budget rather than this 2-core machine's delivery throughput.
  const SCALE = opts.scale ?? Number(process.env.BENCH_BROADCAST_SCALE ?? 5);
  const TENANT_LIMIT = 50 * SCALE;
  const CONV_LIMIT = 7 * SCALE;
  const RECIPIENTS = opts.recipients ?? 10_000;
  const CONCURRENCY = 64;
  const fake = await startFake({
    rateLimits: {
      perAppTenant: [{ limit: TENANT_LIMIT, windowMs: 1000 }],
      perConversation: [{ limit: CONV_LIMIT, windowMs: 1000 }],
      retryAfter: true,
    },
    recordCalls: false,
  });
  const s = services(fake, TENANT_LIMIT, CONV_LIMIT);
  const users = await seedUsers(s, fake, RECIPIENTS, true);
  const convToUser = new Map(users.map((u) => [u.conversationId!, u.recipient]));
  const jobId = `bench-broadcast-${Date.now()}`;

  type Item = { task: DeliveryTask; ctx: AttemptContext };
  let ready: Item[] = [];
  let delayed = 0;
  let reschedules = 0;
  let retries = 0;
  const outcomes = new Map<string, string>();
  const errors: string[] = [];
  const callsBefore = calls(fake);
  // Every Table and Queue request the app makes during the broadcast, the shared budget's included.
  const storage: RequestCounter = { table: 0, queue: 0 };
  const budgetBefore = { ...s.budget!.stats };
  countStorageRequests(storage);
  // As the fan-out does for a big job (shared/jobs/intake.ts): the tenant's user records in pages of
  // 1,000, one snapshot per task; counted with the broadcast.
  const snapshot = new Map(
    (await s.conversations.listUsers(TENANT, RECIPIENTS * 4)).map((u) => [`userId:${u.userId}`, u]),
  );
  ready = users.map((u) => ({
    task: { ...task(jobId, u.recipient), user: snapshot.get(u.recipient) },
    ctx: attempt(),
  }));
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const started = performance.now();

  const worker = async () => {
    for (;;) {
      const item = ready.shift();
      if (!item) {
        if (delayed === 0) return;
        await sleep(20);
        continue;
      }
      try {
        const r = await s.delivery.deliver(item.task, item.ctx);
        if (r.kind === 'done') {
          outcomes.set(item.task.recipient, r.status);
        } else if (r.kind === 'reschedule') {
          reschedules++;
          delayed++;
          // As the queue function does: a new message (new ID) after the delay.
          setTimeout(() => {
            delayed--;
            ready.push({ task: { ...item.task, reschedules: item.task.reschedules + 1 }, ctx: attempt() });
          }, r.delayMs);
        } else {
          retries++;
          delayed++;
          // The queue redelivers the same message after its visibility timeout (1 s here).
          setTimeout(() => {
            delayed--;
            ready.push({ task: item.task, ctx: { ...item.ctx, dequeueCount: item.ctx.dequeueCount + 1 } });
          }, 1000);
        }
      } catch (err) {
        errors.push(String(err));
        delayed++;
        setTimeout(() => {
          delayed--;
          ready.push({ task: item.task, ctx: { ...item.ctx, dequeueCount: item.ctx.dequeueCount + 1 } });
        }, 1000);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;
  countStorageRequests(undefined);
  const budgetTx = s.budget!.stats.reads + s.budget!.stats.writes - budgetBefore.reads - budgetBefore.writes;

  const totalCalls = calls(fake) - callsBefore;
  const throttled = fake.byStatus[429] ?? 0;
  const perUser = new Map<string, number>();
  for (const a of fake.accepted) {
    const r = convToUser.get(a.conversationId);
    if (r) perUser.set(r, (perUser.get(r) ?? 0) + 1);
  }
  const records = await s.deliveryRecords.listForJob(TENANT, jobId);
  const terminal = new Set(
    records.filter((d) => ['sent', 'failed', 'skipped'].includes(d.status)).map((d) => d.recipient),
  );
  const lost = users.filter((u) => !perUser.has(u.recipient) && !terminal.has(u.recipient)).length;
  const duplicates = [...perUser.values()].filter((n) => n > 1).length;
  const sent = [...perUser.values()].reduce((a, n) => a + Math.min(n, 1), 0);
  const achieved = sent / seconds;
  const statusCounts: Record<string, number> = {};
  for (const v of outcomes.values()) statusCounts[v] = (statusCounts[v] ?? 0) + 1;
  const result = {
    recipients: RECIPIENTS,
    timeScale: SCALE,
    tenantLimitPerSecond: TENANT_LIMIT,
    conversationLimitPerSecond: CONV_LIMIT,
    concurrency: CONCURRENCY,
    seconds: round(seconds, 2),
    acceptedMessages: fake.accepted.length,
    recipientsReached: sent,
    achievedPerSecond: round(achieved),
    shareOfBudget: round(achieved / TENANT_LIMIT, 4),
    connectorCalls: totalCalls,
    throttled429: throttled,
    share429: round(throttled / Math.max(1, totalCalls), 5),
    lost,
    duplicates,
    outcomes: statusCounts,
    reschedules,
    retries,
    errors: errors.slice(0, 5),
    errorCount: errors.length,
    storagePerDm: round((storage.table + storage.queue) / RECIPIENTS, 3),
    budgetStoragePerDm: round(budgetTx / RECIPIENTS, 3),
    budgetConflicts: s.budget!.stats.conflicts - budgetBefore.conflicts,
    budgetStats: { ...s.budget!.stats },
    dropped: s.limiter.droppedTimes,
    loopDelayMaxMs: round(loopDelay.max / 1e6),
    loopDelayP99Ms: round(loopDelay.percentile(99) / 1e6),
  };
  console.log(`broadcast: ${JSON.stringify(result)}`);
  await stopLimiter(s);
  await fake.stop();
  return result;
}

// ---- 4. start-up ----------------------------------------------------------------------------------
interface Probe {
  loadMs: number;
  sinceProcessStartMs: number;
  functions: number;
}

function probe(entry: string, env: NodeJS.ProcessEnv, raw = false): Probe {
  const args = [join(ROOT, 'dist', 'bench', 'loadProbe.js'), join(ROOT, entry), ...(raw ? ['--raw'] : [])];
  const out = spawnSync(process.execPath, ['--no-deprecation', ...args], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
  });
  if (out.status !== 0) throw new Error(`load probe failed for ${entry}: ${out.stderr}`);
  return JSON.parse(out.stdout.trim().split('\n').pop()!) as Probe;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Loads one entry RUNS times in fresh processes (after one warm-up run) and summarises. */
function loadFigures(entry: string, env: NodeJS.ProcessEnv, raw = false) {
  const RUNS = 9;
  probe(entry, env, raw); // warm-up: the OS file cache and Node's compile cache, as on a warm instance
  const runs = Array.from({ length: RUNS }, () => probe(entry, env, raw));
  const loads = runs.map((r) => r.loadMs);
  return {
    runs: RUNS,
    medianMs: round(median(loads)),
    minMs: round(Math.min(...loads)),
    maxMs: round(Math.max(...loads)),
    medianSinceProcessStartMs: round(median(runs.map((r) => r.sinceProcessStartMs))),
    functions: runs[0]!.functions,
  };
}

/** Starts the local host on the bundled build and times its first answered request. */
async function firstRequest(connectionString: string) {
  const started = performance.now();
  const host = await startLocalHostProcess({
    root: deployDir(ROOT),
    port: 0,
    env: { ...process.env, AzureWebJobsStorage: connectionString, FUNCTIONS_KEY: 'bench-key' },
  });
  try {
    const readyMs = performance.now() - started;
    const response = await fetch(`${host.url}/api/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-functions-key': 'bench-key' },
      body: JSON.stringify({
        tenantId: TENANT,
        recipients: [{ userId: '29:bench-first-request' }],
        message: { text: 'First request after start' },
      }),
    });
    const body = (await response.json()) as { jobId?: string };
    return {
      readyMs: round(readyMs),
      firstAnswerMs: round(performance.now() - started),
      status: response.status,
      answeredWithJobId: typeof body.jobId === 'string',
    };
  } finally {
    await host.stop('SIGKILL');
  }
}

async function startup(connectionString: string) {
  const off: NodeJS.ProcessEnv = { ...process.env };
  delete off.APPLICATIONINSIGHTS_CONNECTION_STRING;
  const on: NodeJS.ProcessEnv = {
    ...off,
    // Nothing is sent during the load; the endpoint only has to parse.
    APPLICATIONINSIGHTS_CONNECTION_STRING:
      'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/',
  };
  const noCache: NodeJS.ProcessEnv = { ...on, NODE_DISABLE_COMPILE_CACHE: '1' };
  const result = {
    rawDependencyStack: loadFigures('', off, true),
    unbundledTelemetryOff: loadFigures('dist/functions/index.js', off),
    unbundledTelemetryOn: loadFigures('dist/functions/index.js', on),
    bundledTelemetryOff: loadFigures(`${DEPLOY_DIR}/main.js`, off),
    bundledTelemetryOn: loadFigures(`${DEPLOY_DIR}/main.js`, on),
    bundledTelemetryOnNoCompileCache: loadFigures(`${DEPLOY_DIR}/main.js`, noCache),
    firstRequest: await firstRequest(connectionString),
  };
  console.log(`startup: ${JSON.stringify(result)}`);
  return result;
}

// ---- report ----------------------------------------------------------------------------------------

const met = (ok: boolean) => (ok ? 'met' : '**not met**');

async function main() {
  const azurite = await startAzurite();
  try {
    await benchmark(azurite.connectionString, azurite.pid);
  } finally {
    await azurite.stop();
  }
}

async function benchmark(connectionString: string, pid: number) {
  const t0 = Date.now();
  process.env.AzureWebJobsStorage = connectionString;
  azuritePid = pid;
  const startFake = startFakeConnector;

  if (process.env.BENCH_ONLY === 'startup') {
    console.log(JSON.stringify(await startup(connectionString)));
    return;
  }
  if (process.env.BENCH_ONLY === 'audience') {
    await audience();
    return;
  }
  if (process.env.BENCH_ONLY === 'handlers') return handlers(ROOT);
  if (process.env.BENCH_ONLY === 'graph') return void (await graphBench(ROOT));
  if (process.env.BENCH_ONLY === 'scaleout') {
    await scaleOut({
      root: ROOT,
      instances: Number(process.env.BENCH_K ?? 3),
      tenants: Number(process.env.BENCH_TENANTS ?? 1),
      recipientsPerTenant: Number(process.env.BENCH_RECIPIENTS ?? 1200),
      jobsPerTenant: 3,
    });
    return;
  }
  if (process.env.BENCH_ONLY === 'broadcast') {
    const recipients = Number(process.env.BENCH_BROADCAST_RECIPIENTS ?? 10_000);
    console.log(JSON.stringify(await broadcast(startFake, { recipients })));
    return;
  }
  const tput = await throughput(startFake);
  if (process.env.BENCH_ONLY === 'throughput') return;
  const cost = await costPerDm(tput.fake, tput.s, tput.users);
  await stopLimiter(tput.s);
  await tput.fake.stop();
  const bc = await broadcast(startFake);
  // At Teams' real limits, so the budget's blocks are the size production uses (10 at 50/s).
  const costBc = await broadcast(startFake, { scale: 1, recipients: 1000 });
  const up = await startup(connectionString);
  const scale = async (instances: number, tenants: number) =>
    scaleOut({
      root: ROOT,
      instances,
      tenants,
      recipientsPerTenant: 1200,
      jobsPerTenant: 3,
    });
  const so = {
    k1: await scale(1, 1),
    k3: await scale(3, 1),
    k8: await scale(8, 1),
    tenants4: await scale(3, 4),
  };

  const cpu = os.cpus();
  const machine = {
    node: process.version,
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  };
  const results = {
    command: 'npm run bench',
    date: new Date().toISOString(),
    machine,
    throughput: tput.result,
    costPerDm: cost,
    broadcast: bc,
    costBroadcast: costBc,
    scaleOut: so,
    startup: up,
    totalSeconds: round((Date.now() - t0) / 1000),
  };
  const here = join(ROOT, 'bench');
  writeFileSync(join(here, 'results.json'), JSON.stringify(results, null, 2) + '\n');

  const k = cost.knownWarm;
  const md = `# Delivery benchmark results

Command: \`${results.command}\` (build, then \`node dist/bench/run.js\`), run ${results.date}, whole run ${results.totalSeconds} s.

Machine: Node ${machine.node}, ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB RAM, ${machine.platform}.

Storage is an in-memory Azurite on the same machine (started by the benchmark); the Bot Connector is the
Teams-like fake from \`test/support/fakeConnector.ts\`, called over HTTP by the app's own \`HttpBotConnector\`.
Every delivery goes through \`DeliveryService.deliver\` built by \`buildServices\`. Figures are from one run.

| # | Measure | Result | Target | |
|---|---|---|---|---|
| 1 | Deliveries/s, one instance, instant connector, ${tput.result.tasks} tasks, concurrency ${tput.result.concurrency}, chats cached, user cache warm, shared tenant budget (1-minute load average ${tput.result.loadAverage1m} on ${machine.cores} cores) | ${tput.result.perSecond}/s | ≥ 500/s | ${met(tput.result.perSecond >= 500)} |
| 2a | Storage transactions per DM, known recipient, chat cached, user cache warm, shared budget included (one budget write when the DM is alone; avg of ${k.samples}; min–max ${k.storageMin}–${k.storageMax}) | ${k.storageAvg} | ≤ 2 (issue 12: ≤ 3 averaged over a broadcast, row 3) | ${met(k.storageMax <= 2)} |
| 2a | Connector calls per DM, same | ${k.connectorAvg} | 1 | ${met(k.connectorAvg === 1)} |
| 2a′ | Storage transactions per DM, known recipient, chat cached, user **not** in this instance's cache (avg of ${cost.knownCold.samples}; min–max ${cost.knownCold.storageMin}–${cost.knownCold.storageMax}) | ${cost.knownCold.storageAvg} | (≤ 2 applies to the warm case) | — |
| 2a′ | Connector calls per DM, same | ${cost.knownCold.connectorAvg} | 1 | ${met(cost.knownCold.connectorAvg === 1)} |
| 2b | Storage transactions per DM, first contact (create chat), warm instance (avg of ${cost.firstContact.samples}; min–max ${cost.firstContact.storageMin}–${cost.firstContact.storageMax}) | ${cost.firstContact.storageAvg} | report only | — |
| 2b | Connector calls per DM, first contact, warm instance | ${cost.firstContact.connectorAvg} | report only (create + send = 2) | — |
| 2b′ | First contact on a brand-new instance (avg of ${cost.firstContactNewInstance.samples}): storage / connector | ${cost.firstContactNewInstance.storageAvg} / ${cost.firstContactNewInstance.connectorAvg} | report only | — |
| 3 | Broadcast to ${bc.recipients} recipients, one tenant: elapsed | ${bc.seconds} s | — | — |
| 3 | Achieved rate as share of the tenant budget (${bc.achievedPerSecond}/s of ${bc.tenantLimitPerSecond}/s) | ${round(bc.shareOfBudget * 100, 1)} % | ≥ 95 % | ${met(bc.shareOfBudget >= 0.95)} |
| 3 | Connector calls answered 429 (${bc.throttled429} of ${bc.connectorCalls}) | ${round(bc.share429 * 100, 2)} % | ≤ 1 % | ${met(bc.share429 <= 0.01)} |
| 3 | Lost (no accepted message and no terminal record) | ${bc.lost} | 0 | ${met(bc.lost === 0)} |
| 3 | Duplicates (more than one accepted message) | ${bc.duplicates} | 0 | ${met(bc.duplicates === 0)} |
| 3 | Storage transactions per DM over a broadcast to ${costBc.recipients} known recipients with a stored chat, at Teams' real limits, budget included (budget alone ${costBc.budgetStoragePerDm}) | ${costBc.storagePerDm} | ≤ 3 | ${met(costBc.storagePerDm <= 3)} |
${(['k1', 'k3', 'k8'] as const)
  .map((k) => {
    const r = so[k];
    return `| 5 | Scale-out broadcast, K = ${r.instances} local-host process${r.instances > 1 ? 'es' : ''}: elapsed / rate-limit optimum (${r.elapsedS} s / ${r.optimumS} s), 429s (${r.throttled429} of ${r.calls}), lost, duplicates, busiest second at the connector | ${r.ratio}×, ${round(r.share429 * 100, 2)} %, ${r.lost}, ${r.duplicates}, ${r.busiestSecond}/s | ≤ 1.11×, ≤ 1 %, 0, 0, ≤ 50 | ${met(r.ratio <= 1.11 && r.share429 <= 0.01 && r.lost === 0 && r.duplicates === 0 && r.busiestSecond <= 50)} |`;
  })
  .join('\n')}
| 5 | 4 tenants at once, K = 3: each tenant's share of its budget (${so.tenants4.perTenant.map((t) => round(t.shareOfBudget * 100, 1) + ' %').join(', ')}); 429s ${round(so.tenants4.share429 * 100, 2)} %, lost ${so.tenants4.lost}, duplicates ${so.tenants4.duplicates} | min ${round(so.tenants4.minShareOfBudget * 100, 1)} % | ≥ 90 % each | ${met(so.tenants4.minShareOfBudget >= 0.9 && so.tenants4.lost === 0 && so.tenants4.duplicates === 0)} |
| 4 | Start-up: load the bundled entry (\`dist/deploy/main.js\`), all ${up.bundledTelemetryOn.functions} functions registered, telemetry on (median of ${up.bundledTelemetryOn.runs}; ${up.bundledTelemetryOn.minMs}–${up.bundledTelemetryOn.maxMs} ms) | ${up.bundledTelemetryOn.medianMs} ms | ≤ 400 ms | ${met(up.bundledTelemetryOn.medianMs <= 400)} |
| 4 | Same, telemetry off | ${up.bundledTelemetryOff.medianMs} ms | — | — |
| 4 | Same, telemetry on, Node's compile cache disabled (first start of a new instance) | ${up.bundledTelemetryOnNoCompileCache.medianMs} ms | — | — |
| 4 | Unbundled build (\`dist/functions/index.js\`), telemetry on / off | ${up.unbundledTelemetryOn.medianMs} / ${up.unbundledTelemetryOff.medianMs} ms | — | — |
| 4 | Raw dependency stack (\`@azure/functions\`, \`botbuilder\`, \`@azure/data-tables\`, \`@azure/storage-queue\`, \`applicationinsights\`) from node_modules | ${up.rawDependencyStack.medianMs} ms | — | — |
| 4 | First request on the bundled build: local host ready / \`POST /api/notifications\` answered (${up.firstRequest.status}${up.firstRequest.answeredWithJobId ? ' with a job ID' : ''}) | ${up.firstRequest.readyMs} / ${up.firstRequest.firstAnswerMs} ms | answered correctly | ${met(up.firstRequest.status === 202 && up.firstRequest.answeredWithJobId)} |

## Notes

- **Throughput (1):** the service was built with \`tenantRatePerSecond\` 1000 and \`conversationRatePerSecond\` 100;
  the fake connector had no rate limits and no latency, and did not record calls. ${tput.result.tasks} users were seeded with a
  stored chat; a warm-up pass (${tput.result.warmUpPerSecond}/s, outcomes ${JSON.stringify(tput.result.warmUpStatuses)})
  filled the in-process user cache, then a second job to the same users was timed (outcomes ${JSON.stringify(tput.result.statuses)}).
  During the timed pass the benchmark process (app + fake connector) used ${tput.result.cpu.benchProcessCpuShare} CPU-seconds per second
  and the Azurite process ${tput.result.cpu.azuriteCpuShare ?? 'n/a'} (1.0 = one core fully busy; both are single-threaded Node event loops),
  so on this ${machine.cores}-core machine the two processes share both cores and the figure is CPU-bound. A CPU profile of
  this pass spreads the time over the HTTP clients (undici for the connector, node:http under the Azure SDK), the
  Azure SDK's request pipeline and garbage collection; no single hot spot. The rate limiter plans 970/s per tenant here
  (1000 × 0.97). Before it planned its slots (it waited for each timer, and late timers added up) this figure was 385/s.
- **Cost per DM (2):** counted with \`countStorageRequests\` (bench/storageRequests.ts: every Table and Queue request this process sends, seen on Node's HTTP client diagnostics channel)
  around one \`deliver\` call at a time, and the fake connector's answered-request count. A Table entity-group
  transaction (batch) counts as one request. "Warm" = the instance delivered to that user moments before (job
  differs); "not in cache" = the user record exists with a chat but this instance has never resolved it (adds a point
  read). First contact creates the chat (createConversation) and stores its ID on the user record before sending.
  The new-instance case builds fresh services per sample; one \`getTenant\` read is made before measuring so the lazy
  table client is set up outside the count.
- **Broadcast (3):** time scaled ${bc.timeScale}×: the fake connector enforced ${bc.tenantLimitPerSecond} requests / 1000 ms per app and tenant and
  ${bc.conversationLimitPerSecond} / 1000 ms per conversation (Teams: 50 and 7), with Retry-After on 429s, and the service was configured with
  \`tenantRatePerSecond\` ${bc.tenantLimitPerSecond} and \`conversationRatePerSecond\` ${bc.conversationLimitPerSecond}. At real Teams limits the same run would take about ${round(bc.seconds * bc.timeScale)} s.
  All ${bc.recipients} recipients already had a stored chat (so one connector call each; first-contact broadcasts need two calls
  per recipient and would take about twice as long). ${bc.concurrency} concurrent workers called \`deliver\`; a \`reschedule\` result
  was re-queued after its delay as a new message (new claim token), a \`retry\` after 1 s with the same token and
  dequeue count + 1. Reschedules: ${bc.reschedules}; retries: ${bc.retries}; exceptions: ${bc.errorCount}; outcomes: ${JSON.stringify(bc.outcomes)}.
  Achieved rate = recipients with an accepted message ÷ elapsed time (from the first \`deliver\` call to the last
  outcome, seeding excluded). Lost and duplicates are computed from the fake connector's accepted messages and the
  job's delivery records in table storage.
- **Start-up (4):** each figure is the median of ${up.bundledTelemetryOn.runs} fresh \`node\` processes (after one warm-up run
  that fills the OS file cache and Node's compile cache) running \`dist/bench/loadProbe.js\`: it installs the local
  host's stand-in for \`@azure/functions-core\`, imports the entry and counts the registered functions; the time is
  from the start of the import to the end of evaluation (top-level await included, so telemetry is started).
  The bundle (\`npm run build\` → \`scripts/bundle.ts\`, esbuild, code splitting) loads only registration and, when
  \`APPLICATIONINSIGHTS_CONNECTION_STRING\` is set, the bundled Application Insights SDK; each handler's module
  (botbuilder, the storage SDKs) is its own chunk, imported on the first invocation that needs it
  (\`shared/triggers/lazy.ts\`; each function's handler.ts). \`dist/deploy/main.js\` turns on Node's module compile cache first. "Raw
  dependency stack" imports the five packages from node_modules, as an app that loads everything at start does.
  The first-request row starts \`node dist/scripts/local-host.js\` in \`dist/deploy\` (package.json \`main\` = the bundle) against this
  run's Azurite and times the ready line and the answer to a valid job (that answer includes importing the handler
  chunk and the first storage calls).
- **Storage per DM over a broadcast (3):** the same broadcast as above at Teams' real limits (50/s, 7/s), ${costBc.recipients}
  recipients with a stored chat whom this instance had not seen; counted with \`countStorageRequests\` from before the
  fan-out's bulk user read (the tenant's user rows in pages of 1,000, as \`shared/jobs/intake.ts\` does for a big job;
  each task carries its recipient's record) to the last outcome: claim, outcome write, the shared budget's reads and
  writes (${costBc.budgetStoragePerDm} per DM; ${costBc.budgetConflicts} ETag conflicts) and that bulk read. Queue operations made by the
  Functions host (one batched read per 32 messages, one delete per message) and the fan-out's enqueue are not counted.
  Achieved ${round(costBc.shareOfBudget * 100, 1)} % of the budget, ${costBc.throttled429} calls answered 429.
- **Scale-out broadcast (5):** \`bench/scaleOut.ts\`. K local-host processes (\`dist/scripts/local-host.js\`, the
  bundled app as the Functions host runs it) share one storage emulator (each run its own: Table and Queue Storage
  as two Azurite processes, as Azure runs them as separate services; tables in memory, queues on disk in a RAM-backed
  folder; see \`bench/ramAzurite.ts\` for why) and one fake connector enforcing 50 calls
  per sliding second per app and tenant and 7 per conversation, with Retry-After; the app runs with its defaults
  (shared tenant budget, \`TENANT_RATE_PER_SECOND\` 50). Each tenant has 1,200 users stored as team roster members
  (UPN, no chat), never seen by the hosts; the benchmark posts 3 jobs of 400 UPNs per tenant to
  \`POST /api/notifications\` (round-robin over the hosts), the jobs function fans them out (16 recipients to a queue message) and the deliveries function
  delivers them: a createConversation and a send each, so the optimum is 2,400 calls ÷ 50/s = 48 s per tenant.
  Elapsed runs from the first POST to the tenant's last accepted message. Busiest second = most calls the connector
  admitted for one tenant within any sliding second. 1-minute load average at the start of each run:
  K = 1 ${so.k1.loadAverage1m}, K = 3 ${so.k3.loadAverage1m}, K = 8 ${so.k8.loadAverage1m}, 4 tenants ${so.tenants4.loadAverage1m}; at the end
  ${so.k1.loadAverageEnd1m}, ${so.k3.loadAverageEnd1m}, ${so.k8.loadAverageEnd1m}, ${so.tenants4.loadAverageEnd1m} (2 cores; other processes on the machine count).
  CPU per second of run (1.0 = one core), Azurite / all hosts: K = 1 ${so.k1.cpuShare.azurite} / ${so.k1.cpuShare.hosts},
  K = 3 ${so.k3.cpuShare.azurite} / ${so.k3.cpuShare.hosts}, K = 8 ${so.k8.cpuShare.azurite} / ${so.k8.cpuShare.hosts}, 4 tenants ${so.tenants4.cpuShare.azurite} / ${so.tenants4.cpuShare.hosts}.
  Calls admitted per second, K = 8: ${so.k8.perTenant[0]!.perSecond.join(' ')}.
  4 tenants, first tenant: ${so.tenants4.perTenant[0]!.perSecond.join(' ')}.
  Each delivery's log line says where its time went (claim, rate-limit wait, Teams, the rest); \`BENCH_TRACE=<dir>\`
  keeps every host line, an Azurite latency probe every 250 ms and the connector's calls.
- Storage latency here is a local Azurite's, far lower than Azure Storage's; deliveries/s against real storage will
  differ (concurrency would need raising to hide the latency).
`;
  writeBody(join(here, 'RESULTS.md'), md);
  await formatMarkdown(join(here, 'RESULTS.md'));
  console.log(
    `\nSummary: ${tput.result.perSecond} deliveries/s; warm known DM ${k.storageAvg} storage tx + ${k.connectorAvg} connector call; ` +
      `cold known ${cost.knownCold.storageAvg}; first contact ${cost.firstContact.storageAvg} tx + ${cost.firstContact.connectorAvg} calls; ` +
      `broadcast ${bc.seconds} s, ${round(bc.shareOfBudget * 100, 1)} % of budget, ${round(bc.share429 * 100, 2)} % 429, lost ${bc.lost}, duplicates ${bc.duplicates}; ` +
      `start-up ${up.bundledTelemetryOn.medianMs} ms bundled with telemetry (unbundled ${up.unbundledTelemetryOn.medianMs} ms)`,
  );
  console.log(`Wrote bench/RESULTS.md and bench/results.json (${results.totalSeconds} s)`);
  await audience();
  await deployZipResults(ROOT);
  await handlers(ROOT);
  await graphBench(ROOT);
}

/** The audience section (issue 15): its own part of RESULTS.md, so it can be run alone. */
async function audience() {
  const result = await audienceBenchmark(ROOT);
  const file = join(ROOT, 'bench', 'RESULTS.md');
  writeSection(file, 'audience', audienceSection(result, new Date().toISOString()));
  await formatMarkdown(file);
  writeFileSync(join(ROOT, 'bench', 'audience-results.json'), JSON.stringify(result, null, 2) + '\n');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
