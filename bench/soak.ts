/**
 * Soak under faults: pushes notification jobs (single and multi-recipient, several tenants) through
 * the app served by the local host as a separate process, against an on-disk Azurite and the
 * Teams-like fake connector (random 5xx, 429 with and without Retry-After, timeouts, 403, 404, and
 * Teams' rate limits). During the run the host is killed with SIGKILL and restarted, its language
 * worker is restarted as at a function timeout (every invocation on it dies), and Azurite is
 * restarted. At the end the connector's log of accepted messages is reconciled with the delivery
 * records (soak/reconcile.ts): delivered exactly once, duplicates (each checked against the documented
 * crash window), lost, failed with reasons, poisoned, and the elapsed time against the rate-limit optimum.
 *
 * Run: npm run soak [-- --deliveries 10000 --tenants 2 ...]  →  prints a summary and writes the
 * soak section of bench/RESULTS.md (soak/cli.ts). Exit code 1 when anything is lost or a duplicate is
 * unexplained. test/soak.test.ts runs a shortened soak through runSoak().
 */
import { createWriteStream, existsSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pMap from 'p-map';
import { QueueClient } from '@azure/storage-queue';
import { enqueueNotification } from '../shared/jobs/producer.js';
import { deployDir } from '../scripts/deploy/layout.js';
import { startLocalHostProcess, type LocalHostProcess } from '../scripts/local-host/child.js';
import { seededRandom, startFakeConnector } from '../test/support/fakeConnector.js';
import { sleep, teamsLimited } from './common.js';
import { cpuSecondsOfTree } from './cpu.js';
import { ramBackedDir, startSplitAzurite } from './ramAzurite.js';
import { DELIVERIES_QUEUE, JOBS_QUEUE, poisonQueueOf } from '../shared/queues.js';
import { tableClient } from '../shared/azureStorage/connection.js';
import { LazyTable } from '../shared/azureStorage/table.js';
import { TableConversationStore } from '../shared/azureStorage/tableConversationStore.js';
import { expectedOf, planJobs, round, seedUsers, tenantIdOf } from './soak/plan.js';
import { reconcile } from './soak/reconcile.js';
import { drainPoison, queueCount, readDeliveryRecords, rejectedFrom } from './soak/storage.js';
import {
  DEFAULT_FAULTS,
  DEFAULT_OPTIONS,
  MARKER,
  TEAMS_CONVERSATION_RATE,
  TEAMS_TENANT_RATE,
  type SoakEvent,
  type SoakOptions,
  type SoakReport,
} from './soak/types.js';

export { explainedByCrash, mismatchExplainedByCrash } from './soak/reconcile.js';
export { resultsSection, summaryTable } from './soak/report.js';
export * from './soak/types.js';

/** The repository root (holds package.json), from dist/bench/ or, under vitest, bench/. */
function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('soak: no package.json above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}
export const ROOT = findRoot();

/**
 * Requests a killed process wrote just before it died still reach the connector (in this process)
 * a moment later: a copy accepted up to this long after the kill was seen was sent before it.
 */
const KILL_SETTLE_MS = 250;

/** The local host as a child process, so SIGKILL is a real crash; its output goes to `log`. */
function startHost(
  env: Record<string, string>,
  log: NodeJS.WritableStream,
  onLine: (line: string) => void,
): Promise<LocalHostProcess> {
  return startLocalHostProcess({
    root: deployDir(ROOT),
    port: 0,
    env: { ...process.env, ...env },
    onLine: (line) => {
      log.write(`${line}\n`);
      onLine(line);
    },
  });
}

/** The order of the faults: kills, worker restarts and Azurite restarts interleaved, from 25 % to 75 % accepted. */
function faultPlan(o: SoakOptions): { kinds: SoakEvent['kind'][]; triggers: number[] } {
  const kinds: SoakEvent['kind'][] = [];
  for (let i = 0; i < Math.max(o.kills, o.workerRestarts, o.azuriteRestarts); i++) {
    if (i < o.kills) kinds.push('host-sigkill');
    if (i < o.workerRestarts) kinds.push('worker-restart');
    if (i < o.azuriteRestarts) kinds.push('azurite-restart');
  }
  const triggers = kinds.map((_, i) => (kinds.length === 1 ? 0.4 : 0.25 + (0.5 * i) / (kinds.length - 1)));
  return { kinds, triggers };
}

// ---- the soak ------------------------------------------------------------------------------------------
export async function runSoak(partial: Partial<SoakOptions> = {}): Promise<SoakReport> {
  const o: SoakOptions = { ...DEFAULT_OPTIONS, ...partial, faults: { ...DEFAULT_FAULTS, ...partial.faults } };
  const log = o.log;
  if (!existsSync(path.join(ROOT, 'dist', 'scripts', 'local-host.js')))
    throw new Error('soak: dist/ is missing; run npm run build first');
  const random = seededRandom(o.seed);
  const runTag = Date.now().toString(36);
  const tenantRate = TEAMS_TENANT_RATE * o.timeScale;
  const conversationRate = TEAMS_CONVERSATION_RATE * o.timeScale;
  // Azurite's workspace in a RAM-backed folder where there is one, as the scale-out bench does: this
  // machine's disk, not the app, set the pace of the on-disk emulator.
  const workDir = ramBackedDir('teams-notifier-soak-');
  const hostLog = createWriteStream(path.join(workDir, 'host.log'));
  const cleanups: (() => Promise<void>)[] = [];
  const problems: string[] = [];

  try {
    // Table and Queue Storage as two processes, both on disk so that a restart keeps their data.
    const azurite = await startSplitAzurite({ location: path.join(workDir, 'azurite'), tablesOnDisk: true });
    cleanups.push(() => azurite.stop());
    const fake = await startFakeConnector(teamsLimited(tenantRate, conversationRate));
    cleanups.push(() => fake.stop());
    const conn = azurite.connectionString;

    // --- Recipients: per tenant, users with a stored chat and first-contact users.
    const tenantIds = Array.from({ length: o.tenants }, (_, t) => tenantIdOf(t));
    const perTenant = Math.max(40, Math.ceil(o.deliveries / o.tenants / 8));
    const table = tableClient({ connectionString: conn }, 'Conversations');
    const store = new TableConversationStore(new LazyTable(table));
    const { firstContactShare } = o;
    const users = await seedUsers({ tenantIds, perTenant, runTag, random, fake, store, firstContactShare });
    const jobs = planJobs(o, users, runTag, random);
    const expected = expectedOf(jobs);
    const firstContactUsed = new Set(expected.filter((e) => e.user.firstContact).map((e) => e.user.userId));
    log(
      `soak: ${expected.length} deliveries in ${jobs.length} jobs over ${o.tenants} tenants ` +
        `(${perTenant} users each, ${firstContactUsed.size} first contacts); limits ${tenantRate}/s per tenant, ` +
        `${conversationRate}/s per chat; workspace ${workDir}`,
    );

    // --- The host, as its own process.
    const hostEnv: Record<string, string> = {
      AzureWebJobsStorage: conn,
      MicrosoftAppId: '',
      MicrosoftAppPassword: '',
      ALLOW_UNAUTHENTICATED_ACTIVITIES: 'true',
      ALLOWED_TENANT_IDS: '',
      BOT_SERVICE_URL: fake.url,
      TENANT_RATE_PER_SECOND: String(tenantRate),
      CONVERSATION_RATE_PER_SECOND: String(conversationRate),
      CONNECTOR_TIMEOUT_MS: String(o.connectorTimeoutMs),
      RECIPIENT_HOURLY_CAP: '30',
      APPLICATIONINSIGHTS_CONNECTION_STRING: '',
      LOCAL_HOST_QUEUE_LEASE_MS: String(o.queueLeaseMs),
      // One line per invocation would be most of the soak's I/O; warnings and errors still go to host.log.
      AzureFunctionsJobHost__logging__logLevel__default: o.hostLogLevel,
    };
    const timeSpan = (ms: number) => new Date(ms).toISOString().slice(11, 23);
    if (o.visibilityTimeoutMs !== undefined)
      hostEnv.AzureFunctionsJobHost__extensions__queues__visibilityTimeout = timeSpan(o.visibilityTimeoutMs);
    if (o.maxPollingIntervalMs !== undefined)
      hostEnv.AzureFunctionsJobHost__extensions__queues__maxPollingInterval = timeSpan(
        o.maxPollingIntervalMs,
      );
    // The host says when it restarts its worker (a warning, so it shows at any log level).
    let workerRestartSeen: (() => void) | undefined;
    const onLine = (line: string) => {
      if (/Restarting the language worker/.test(line)) workerRestartSeen?.();
    };
    let host = await startHost(hostEnv, hostLog, onLine);
    cleanups.push(() => host.stop('SIGTERM'));

    fake.setRandomFaults({ seed: o.seed, ...o.faults, timeoutMs: o.connectorTimeoutMs + 1000 });

    // --- Push every job, then fire the faults as Teams accepts messages.
    const startedAt = Date.now();
    const used = { azurite: 0, host: 0 };
    const loadAtStart = os.loadavg()[0]!;
    const enqueued = pMap(
      jobs,
      (job) =>
        enqueueNotification(
          {
            id: job.id,
            tenantId: job.tenantId,
            recipients: job.recipients,
            message: { text: `Soak notification (${MARKER}${job.id})` },
          },
          { connection: conn },
        ),
      { concurrency: 16 },
    );
    const plan = faultPlan(o);
    const events: SoakEvent[] = [];
    const jobsQueue = new QueueClient(conn, JOBS_QUEUE);
    const deliveriesQueue = new QueueClient(conn, DELIVERIES_QUEUE);
    const timeoutMs =
      o.quiescenceTimeoutMs ??
      10 * ((expected.length + firstContactUsed.size) / (tenantRate * o.tenants)) * 1000 + 5 * 60_000;
    let quiescent = false;
    let emptyPolls = 0;
    let lastReport = Date.now();
    let allEnqueued = false;
    let enqueueError: unknown;
    enqueued.then(
      () => {
        allEnqueued = true;
        log(`soak: ${jobs.length} jobs enqueued in ${round((Date.now() - startedAt) / 1000)} s`);
      },
      (err: unknown) => (enqueueError = err),
    );

    while (Date.now() - startedAt < timeoutMs) {
      if (enqueueError) throw enqueueError;
      const progress = fake.accepted.length / expected.length;
      const next = events.length;
      if (next < plan.kinds.length && progress >= plan.triggers[next]!) {
        const kind = plan.kinds[next]!;
        const at = Date.now();
        let downAt = at;
        if (kind === 'host-sigkill') {
          used.host += cpuSecondsOfTree(host.child.pid) ?? 0;
          await host.stop('SIGKILL');
          await sleep(KILL_SETTLE_MS);
          downAt = Date.now();
          log(`soak: host killed (SIGKILL) at ${round(progress * 100)} % accepted; restarting it`);
          host = await startHost(hostEnv, hostLog, onLine);
        } else if (kind === 'worker-restart') {
          // As at a function timeout: the host restarts its language worker, stopping every invocation on it.
          const seen = new Promise<void>((resolve) => (workerRestartSeen = resolve));
          host.child.kill('SIGUSR2');
          await Promise.race([seen, sleep(10_000)]);
          await sleep(KILL_SETTLE_MS);
          downAt = Date.now();
          log(
            `soak: the host's worker restarted as at a function timeout at ${round(progress * 100)} % accepted`,
          );
        } else {
          log(`soak: restarting Azurite at ${round(progress * 100)} % accepted`);
          used.azurite += azurite.cpuSeconds();
          await azurite.restart();
        }
        events.push({ kind, atProgress: round(progress, 3), at, downAt, backAt: Date.now() });
        continue;
      }
      if (events.length === plan.kinds.length && allEnqueued) {
        const counts = await Promise.all([queueCount(jobsQueue), queueCount(deliveriesQueue)]);
        emptyPolls = counts.every((c) => c === 0) ? emptyPolls + 1 : 0;
        if (emptyPolls >= 2) {
          quiescent = true;
          break;
        }
      }
      if (Date.now() - lastReport >= 10_000) {
        lastReport = Date.now();
        log(
          `soak: ${round((Date.now() - startedAt) / 1000)} s, ${fake.accepted.length} of ${expected.length} accepted`,
        );
      }
      await sleep(500);
    }
    if (!quiescent) problems.push(`not quiescent after ${round(timeoutMs / 1000)} s (queues not empty)`);
    if (events.length < plan.kinds.length)
      problems.push(
        `only ${events.length} of ${plan.kinds.length} planned faults fired before the run ended`,
      );
    await host.stop('SIGTERM');

    // --- Reconcile Teams' side with the delivery records.
    const records = await readDeliveryRecords(table, tenantIds);
    // The poison-queue functions record what lands in a poison queue and delete it: count both their
    // records (failed `Poisoned` deliveries, RejectedJobs rows from the jobs poison queue) and leftovers.
    const poisonedDeliveries = [
      ...(await drainPoison(new QueueClient(conn, poisonQueueOf(DELIVERIES_QUEUE)))),
      ...[...records.values()].filter((r) => r.reason === 'Poisoned'),
    ];
    const poisonedJobs = [
      ...(await drainPoison(new QueueClient(conn, poisonQueueOf(JOBS_QUEUE)))),
      ...(await rejectedFrom(conn, poisonQueueOf(JOBS_QUEUE))),
    ];
    // Hosts killed and workers restarted: both open the crash window (docs/delivery.md).
    const kills = events.filter((e) => e.kind !== 'azurite-restart').map((e) => e.downAt);
    const outcome = reconcile(expected, fake.accepted, records, kills);
    problems.push(...outcome.problems);

    // --- Elapsed against the rate-limit optimum.
    let end = startedAt;
    for (const r of records.values()) if (r.completedAt) end = Math.max(end, Date.parse(r.completedAt));
    for (const a of fake.accepted) end = Math.max(end, a.at);
    let optimumMs = 0;
    let faultFreeCalls = 0;
    for (const tenantId of tenantIds) {
      const sends = expected.filter((e) => e.tenantId === tenantId).length;
      const creates = [...firstContactUsed].filter(
        (id) => users.flat().find((u) => u.userId === id)?.tenantId === tenantId,
      ).length;
      faultFreeCalls += sends + creates;
      optimumMs = Math.max(optimumMs, ((sends + creates) / tenantRate) * 1000);
    }
    const perChat = new Map<string, number>();
    for (const e of expected)
      perChat.set(e.user.conversationId, (perChat.get(e.user.conversationId) ?? 0) + 1);
    optimumMs = Math.max(optimumMs, (Math.max(...perChat.values()) / conversationRate) * 1000);
    const elapsedMs = end - startedAt;
    // Where the time went: the emulator's on-disk mode, not the app, is what a soak here waits on.
    used.azurite += azurite.cpuSeconds();
    used.host += cpuSecondsOfTree(host.child.pid) ?? 0;

    const cpu = os.cpus();
    const { log: _log, ...options } = o;
    const report: SoakReport = {
      options,
      date: new Date(startedAt).toISOString(),
      machine: {
        node: process.version,
        cpu: cpu[0]?.model ?? 'unknown',
        cores: cpu.length,
        memoryGiB: round(os.totalmem() / 2 ** 30, 1),
        platform: `${os.platform()} ${os.release()} ${os.arch()}`,
        loadAverage: [round(loadAtStart, 2), round(os.loadavg()[0]!, 2)],
      },
      jobs: {
        total: jobs.length,
        single: jobs.filter((j) => j.recipients.length === 1).length,
        multi: jobs.filter((j) => j.recipients.length > 1).length,
      },
      users: {
        perTenant,
        withChat: users.flat().filter((u) => !u.firstContact).length,
        firstContact: users.flat().filter((u) => u.firstContact).length,
      },
      expected: expected.length,
      exactlyOnce: outcome.exactlyOnce,
      duplicates: outcome.duplicates,
      mismatched: outcome.mismatched,
      lost: outcome.lost,
      failed: outcome.failed,
      skipped: outcome.skipped,
      poisoned: { deliveries: poisonedDeliveries.length, jobs: poisonedJobs.length },
      events,
      connector: {
        calls: Object.values(fake.byStatus).reduce((a, b) => a + b, 0),
        byStatus: { ...fake.byStatus },
        faults: { ...fake.faults },
      },
      timing: {
        elapsedMs,
        optimumMs: Math.round(optimumMs),
        faultFreeCalls,
        ratio: round(elapsedMs / optimumMs, 2),
        azuriteCpuShare: round(used.azurite / ((Date.now() - startedAt) / 1000), 2),
        hostCpuShare: round(used.host / ((Date.now() - startedAt) / 1000), 2),
        tenantLimitPerSecond: tenantRate,
        conversationLimitPerSecond: conversationRate,
      },
      quiescent,
      workDir: o.keepData ? workDir : undefined,
      problems,
    };
    return report;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await new Promise<void>((resolve) => hostLog.end(resolve));
    if (!o.keepData) rmSync(workDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { main } = await import('./soak/cli.js');
  main(process.argv, { runSoak, root: ROOT }).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
