/**
 * Soak under faults: pushes notification jobs (single and multi-recipient, several tenants) through
 * the app served by the local host as a separate process, against an on-disk Azurite and the
 * Teams-like fake connector (random 5xx, 429 with and without Retry-After, timeouts, 403, 404, and
 * Teams' rate limits). During the run the host is killed with SIGKILL and restarted, and Azurite is
 * restarted. At the end the connector's log of accepted messages is reconciled with the delivery
 * records: delivered exactly once, duplicates (each checked against the documented crash window),
 * lost, failed with reasons, poisoned, and the elapsed time against the rate-limit optimum.
 *
 * Run: npm run soak [-- --deliveries 10000 --tenants 2 ...]  →  prints a summary and writes the
 * soak section of bench/RESULTS.md. Exit code 1 when anything is lost or a duplicate is unexplained.
 * test/soak.test.ts runs a shortened soak through runSoak().
 */
import { createWriteStream, existsSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import pMap from 'p-map';
import { QueueClient } from '@azure/storage-queue';
import type { TableClient } from '@azure/data-tables';
import { enqueueNotification } from '../shared/jobs/producer.js';
import { deployDir } from '../scripts/deploy/layout.js';
import { startLocalHostProcess, type LocalHostProcess } from '../scripts/local-host/child.js';
import { seededRandom, startFakeConnector } from '../test/support/fakeConnector.js';
import { cpuSecondsOf } from './cpu.js';
import { ramBackedDir, startSplitAzurite } from './ramAzurite.js';
import { formatMarkdown, writeSection } from './results.js';
import type { RecipientRef } from '../shared/jobs/recipient.js';
import { recipientKeyString, toRecipientKey } from '../shared/jobs/recipient.js';
import { DELIVERIES_QUEUE, JOBS_QUEUE, poisonQueueOf } from '../shared/queues.js';
import { tableClient } from '../shared/azureStorage/connection.js';
import { LazyTable, listByPrefix } from '../shared/azureStorage/table.js';
import { partitionOf } from '../shared/azureStorage/conversationRows.js';
import { TableConversationStore } from '../shared/azureStorage/tableConversationStore.js';

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
const ROOT = findRoot();

// ---- options and report ------------------------------------------------------------------------------
export interface SoakFaults {
  p5xx: number;
  p429WithRetryAfter: number;
  p429NoRetryAfter: number;
  pTimeout: number;
  p403: number;
  p404: number;
}

export interface SoakOptions {
  /** Deliveries (job × recipient) to push. */
  deliveries: number;
  tenants: number;
  /** Multiplies Teams' rate limits (50/s per tenant, 7/s per conversation), for the connector and the app. */
  timeScale: number;
  /** SIGKILLs of the host (each followed by a restart). */
  kills: number;
  azuriteRestarts: number;
  seed: number;
  faults: SoakFaults;
  /** The app's CONNECTOR_TIMEOUT_MS; the fake's timeouts hang 1 s longer, then drop the connection. */
  connectorTimeoutMs: number;
  /** Share of deliveries in single-recipient jobs; the rest in jobs of 2 to maxJobSize recipients. */
  singleShare: number;
  maxJobSize: number;
  /** Share of users with no stored 1:1 chat (the first delivery opens it). */
  firstContactShare: number;
  /** LOCAL_HOST_QUEUE_LEASE_MS: how soon the messages a killed host held come back. */
  queueLeaseMs: number;
  /** host.json overrides (undefined: host.json's own values). */
  visibilityTimeoutMs?: number | undefined;
  maxPollingIntervalMs?: number | undefined;
  /** Give up waiting for quiescence after this long. Default: 10 × the optimum + 5 min. */
  quiescenceTimeoutMs?: number | undefined;
  /** Keep the Azurite workspace and host log (printed). */
  keepData: boolean;
  /** The host's log level: `Information` adds a line per delivery saying where its time went. */
  hostLogLevel: string;
  log: (line: string) => void;
}

export const DEFAULT_FAULTS: SoakFaults = {
  p5xx: 0.05,
  p429WithRetryAfter: 0.02,
  p429NoRetryAfter: 0.01,
  pTimeout: 0.01,
  p403: 0.002,
  p404: 0.003,
};

export const DEFAULT_OPTIONS: SoakOptions = {
  deliveries: 10_000,
  tenants: 2,
  timeScale: 1,
  kills: 1,
  azuriteRestarts: 1,
  seed: 1,
  faults: DEFAULT_FAULTS,
  connectorTimeoutMs: 2000,
  singleShare: 0.2,
  maxJobSize: 60,
  firstContactShare: 0.3,
  queueLeaseMs: 30_000,
  keepData: false,
  hostLogLevel: 'Warning',
  log: (line) => console.log(line),
};

const TEAMS_TENANT_RATE = 50;
const TEAMS_CONVERSATION_RATE = 7;
const BOT_ID = '28:00000000-0000-0000-0000-0000000050a6';
const MARKER = 'soak-job:';

export interface DeliveryIssue {
  jobId: string;
  recipient: string;
  accepted: number[];
  record?: { status: string; reason?: string; claimedAt?: string; attempts: number } | undefined;
  why: string;
}

export interface SoakEvent {
  kind: 'host-sigkill' | 'azurite-restart';
  /** Share of expected deliveries accepted by Teams when it fired. */
  atProgress: number;
  at: number;
  /**
   * When the killed host's exit was seen (a SIGKILL takes a moment to land on a loaded machine: the
   * host may still send until then); for an Azurite restart, `at`.
   */
  downAt: number;
  /** Until the host was ready / Azurite listened again. */
  backAt: number;
}

export interface SoakReport {
  options: Omit<SoakOptions, 'log'>;
  date: string;
  machine: {
    node: string;
    cpu: string;
    cores: number;
    memoryGiB: number;
    platform: string;
    /** 1-minute load average when the run started and ended (other work on the machine slows the soak). */
    loadAverage: [number, number];
  };
  jobs: { total: number; single: number; multi: number };
  users: { perTenant: number; withChat: number; firstContact: number };
  expected: number;
  exactlyOnce: number;
  duplicates: { total: number; explained: number; unexplained: DeliveryIssue[] };
  /** Teams has it once but the record says otherwise, or records a different activity. */
  mismatched: { total: number; explained: number; unexplained: DeliveryIssue[] };
  lost: DeliveryIssue[];
  failed: { total: number; byReason: Record<string, number> };
  skipped: { total: number; byReason: Record<string, number> };
  poisoned: { deliveries: number; jobs: number };
  events: SoakEvent[];
  connector: { calls: number; byStatus: Record<number, number>; faults: Record<string, number> };
  timing: {
    elapsedMs: number;
    optimumMs: number;
    faultFreeCalls: number;
    ratio: number;
    /** CPU seconds per second of the run (1.0 = one core busy), summed over restarts. */
    azuriteCpuShare: number;
    hostCpuShare: number;
    tenantLimitPerSecond: number;
    conversationLimitPerSecond: number;
  };
  quiescent: boolean;
  workDir?: string | undefined;
  /** Why the soak failed; empty when it passed. */
  problems: string[];
}

// ---- helpers -----------------------------------------------------------------------------------------
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

/** Seeded, so a seed reproduces the same jobs. */
const rng = seededRandom;

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
const tenantIdOf = (t: number) => `5a0c0000-0000-4000-8000-${hex(t + 1, 12)}`;

interface SoakUser {
  tenantId: string;
  userId: string;
  aadObjectId: string;
  upn: string;
  conversationId: string;
  firstContact: boolean;
}

interface Expected {
  jobId: string;
  tenantId: string;
  recipient: string;
  user: SoakUser;
}

interface Job {
  id: string;
  tenantId: string;
  recipients: RecipientRef[];
  users: SoakUser[];
}

function planJobs(o: SoakOptions, users: SoakUser[][], runTag: string, random: () => number): Job[] {
  const sizes: number[] = [];
  const singles = Math.round(o.deliveries * o.singleShare);
  for (let i = 0; i < singles; i++) sizes.push(1);
  let left = o.deliveries - singles;
  const largest = Math.min(o.maxJobSize, ...users.map((u) => u.length));
  while (left > 0) {
    let size = 2 + Math.floor(random() * (largest - 1));
    if (left - size === 1 || size > left) size = left;
    sizes.push(size);
    left -= size;
  }
  // Shuffle so single and multi-recipient jobs interleave.
  for (let i = sizes.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [sizes[i], sizes[j]] = [sizes[j]!, sizes[i]!];
  }
  return sizes.map((size, n) => {
    const t = Math.floor(random() * users.length);
    const pool = users[t]!;
    // Distinct users within a job: one expected message per chat and job.
    const picked = new Set<number>();
    while (picked.size < size) picked.add(Math.floor(random() * pool.length));
    const chosen = [...picked].map((i) => pool[i]!);
    const recipients = chosen.map((u): RecipientRef => {
      const r = random();
      return r < 0.6 ? { userId: u.userId } : r < 0.8 ? { aadObjectId: u.aadObjectId } : { upn: u.upn };
    });
    return { id: `soak-${runTag}-${n + 1}`, tenantId: tenantIdOf(t), recipients, users: chosen };
  });
}

/** The local host as a child process, so SIGKILL is a real crash; its output goes to `log`. */
function startHost(env: Record<string, string>, log: NodeJS.WritableStream): Promise<LocalHostProcess> {
  return startLocalHostProcess({
    root: deployDir(ROOT),
    port: 0,
    env: { ...process.env, ...env },
    onLine: (line) => log.write(`${line}\n`),
  });
}

async function queueCount(q: QueueClient): Promise<number | undefined> {
  try {
    if (!(await q.exists())) return 0;
    // Azure (and Azurite) count invisible messages too, so in-flight and delayed ones keep this above 0.
    return (await q.getProperties()).approximateMessagesCount ?? 0;
  } catch {
    return undefined;
  }
}

/** RejectedJobs rows set aside from one source (e.g. the jobs poison queue). */
async function rejectedFrom(conn: string, source: string): Promise<unknown[]> {
  const table = tableClient({ connectionString: conn }, 'RejectedJobs');
  const out: unknown[] = [];
  try {
    for await (const row of table.listEntities<Record<string, unknown>>()) {
      if (row.partitionKey !== 'byJob' && row.source === source) out.push(row);
    }
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err; // no table: nothing rejected
  }
  return out;
}

/** Reads every message of a poison queue (hidden for 10 minutes, not deleted). */
async function drainPoison(q: QueueClient): Promise<unknown[]> {
  if (!(await q.exists())) return [];
  const out: unknown[] = [];
  for (;;) {
    const { receivedMessageItems } = await q.receiveMessages({
      numberOfMessages: 32,
      visibilityTimeout: 600,
    });
    if (receivedMessageItems.length === 0) return out;
    for (const m of receivedMessageItems) {
      try {
        out.push(JSON.parse(Buffer.from(m.messageText, 'base64').toString('utf8')));
      } catch {
        out.push(m.messageText);
      }
    }
  }
}

interface DeliveryRow {
  jobId: string;
  recipient: string;
  status: string;
  reason?: string;
  activityId?: string;
  claimedAt?: string;
  completedAt?: string;
  attempts?: number;
}

async function readDeliveryRecords(
  table: TableClient,
  tenantIds: string[],
): Promise<Map<string, DeliveryRow>> {
  const rows = new Map<string, DeliveryRow>();
  for (const tenantId of tenantIds) {
    for (const row of await listByPrefix<DeliveryRow>(table, partitionOf(tenantId), 'dlv|'))
      rows.set(`${row.jobId}\n${row.recipient}`, row);
  }
  return rows;
}

const TERMINAL = new Set(['sent', 'failed', 'skipped']);

/**
 * The documented duplicate window: Teams accepted the message, then the host died before it wrote
 * `sent`, and the retry (after the restart) sent it again. So every extra copy must be separated from
 * the next by a kill, and the record's last claim must come after the last of those kills.
 */
export function explainedByCrash(
  accepted: number[],
  record: DeliveryRow | undefined,
  kills: number[],
): boolean {
  if (accepted.length < 2 || !record?.claimedAt) return false;
  const claimedAt = Date.parse(record.claimedAt);
  let lastKill = -Infinity;
  for (let i = 0; i + 1 < accepted.length; i++) {
    const kill = kills.find((k) => accepted[i]! <= k && k < accepted[i + 1]!);
    if (kill === undefined) return false;
    lastKill = Math.max(lastKill, kill);
  }
  // Each copy was sent under its own claim: the one the kill interrupted, then the takeover.
  return claimedAt > lastKill && Number(record.attempts ?? 0) >= accepted.length;
}

/**
 * The same window when the retry did not send: Teams accepted the only copy, then the host died before
 * it wrote `sent`, and after the restart the retry found the recipient no longer eligible (another job's
 * 403 made them inactive) and recorded that. So a kill came after the copy, and the record's final
 * outcome was written after that kill.
 */
export function mismatchExplainedByCrash(
  accepted: number[],
  record: DeliveryRow | undefined,
  kills: number[],
): boolean {
  if (accepted.length !== 1 || !record?.completedAt || record.status === 'sent') return false;
  const completedAt = Date.parse(record.completedAt);
  return kills.some((k) => accepted[0]! <= k && completedAt > k);
}

// ---- the soak ------------------------------------------------------------------------------------------
export async function runSoak(partial: Partial<SoakOptions> = {}): Promise<SoakReport> {
  const o: SoakOptions = { ...DEFAULT_OPTIONS, ...partial, faults: { ...DEFAULT_FAULTS, ...partial.faults } };
  const log = o.log;
  if (!existsSync(path.join(ROOT, 'dist', 'scripts', 'local-host.js')))
    throw new Error('soak: dist/ is missing; run npm run build first');
  const random = rng(o.seed);
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
    const fake = await startFakeConnector({
      rateLimits: {
        perAppTenant: [{ limit: tenantRate, windowMs: 1000 }],
        perConversation: [{ limit: conversationRate, windowMs: 1000 }],
        retryAfter: true,
      },
      recordCalls: false,
    });
    cleanups.push(() => fake.stop());
    const conn = azurite.connectionString;

    // --- Recipients: per tenant, users with a stored chat and first-contact users.
    const tenantIds = Array.from({ length: o.tenants }, (_, t) => tenantIdOf(t));
    const perTenant = Math.max(40, Math.ceil(o.deliveries / o.tenants / 8));
    const table = tableClient({ connectionString: conn }, 'Conversations');
    const store = new TableConversationStore(new LazyTable(table));
    const users: SoakUser[][] = tenantIds.map((tenantId, t) =>
      Array.from({ length: perTenant }, (_, i): SoakUser => {
        const userId = `29:soak-${t}-${i}-${runTag}`;
        return {
          tenantId,
          userId,
          aadObjectId: `${hex(i, 8)}-5a0c-4000-8000-${hex(t + 1, 12)}`,
          upn: `soak.user${i}@tenant${t}.example.com`,
          conversationId: fake.conversationIdFor(tenantId, userId, BOT_ID),
          firstContact: random() < o.firstContactShare,
        };
      }),
    );
    for (const tenantId of tenantIds)
      await store.saveTenant({ tenantId, serviceUrl: fake.url, botId: BOT_ID });
    await pMap(
      users.flat(),
      async (u) => {
        if (!u.firstContact)
          fake.registerConversation(u.conversationId, {
            tenantId: u.tenantId,
            botId: BOT_ID,
            members: [{ id: u.userId }],
          });
        await store.saveUser(
          u.tenantId,
          {
            userId: u.userId,
            aadObjectId: u.aadObjectId,
            upn: u.upn,
            name: 'Soak user',
            serviceUrl: fake.url,
          },
          { source: 'team:soak', ...(u.firstContact ? {} : { conversationId: u.conversationId }) },
        );
      },
      { concurrency: 16 },
    );

    const jobs = planJobs(o, users, runTag, random);
    const expected: Expected[] = jobs.flatMap((job) =>
      job.recipients.map((r, i) => ({
        jobId: job.id,
        tenantId: job.tenantId,
        recipient: recipientKeyString(toRecipientKey(r)),
        user: job.users[i]!,
      })),
    );
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
    let host = await startHost(hostEnv, hostLog);
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
    const plan: SoakEvent['kind'][] = [];
    for (let i = 0; i < Math.max(o.kills, o.azuriteRestarts); i++) {
      if (i < o.kills) plan.push('host-sigkill');
      if (i < o.azuriteRestarts) plan.push('azurite-restart');
    }
    const triggers = plan.map((_, i) => (plan.length === 1 ? 0.4 : 0.25 + (0.5 * i) / (plan.length - 1)));
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
      if (next < plan.length && progress >= triggers[next]!) {
        const kind = plan[next]!;
        const at = Date.now();
        let downAt = at;
        if (kind === 'host-sigkill') {
          used.host += cpuSecondsOf(host.child.pid) ?? 0;
          await host.stop('SIGKILL');
          downAt = Date.now();
          log(`soak: host killed (SIGKILL) at ${round(progress * 100)} % accepted; restarting it`);
          host = await startHost(hostEnv, hostLog);
        } else {
          log(`soak: restarting Azurite at ${round(progress * 100)} % accepted`);
          used.azurite += azurite.cpuSeconds();
          await azurite.restart();
        }
        events.push({ kind, atProgress: round(progress, 3), at, downAt, backAt: Date.now() });
        continue;
      }
      if (events.length === plan.length && allEnqueued) {
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
    if (events.length < plan.length)
      problems.push(`only ${events.length} of ${plan.length} planned faults fired before the run ended`);
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
    const accepted = new Map<string, { at: number; activityId: string }[]>();
    let foreign = 0;
    for (const a of fake.accepted) {
      const text = typeof a.body.text === 'string' ? a.body.text : '';
      const at = text.indexOf(MARKER);
      if (at < 0) {
        foreign++;
        continue;
      }
      const jobId = text.slice(at + MARKER.length).replace(/\)$/, '');
      const key = `${a.conversationId}\n${jobId}`;
      accepted.set(key, [...(accepted.get(key) ?? []), { at: a.at, activityId: a.activityId }]);
    }
    if (foreign > 0) problems.push(`${foreign} accepted messages carry no soak marker`);

    const kills = events.filter((e) => e.kind === 'host-sigkill').map((e) => e.downAt);
    let exactlyOnce = 0;
    const duplicates = { total: 0, explained: 0, unexplained: [] as DeliveryIssue[] };
    const mismatched = { total: 0, explained: 0, unexplained: [] as DeliveryIssue[] };
    const lost: DeliveryIssue[] = [];
    const failed = { total: 0, byReason: {} as Record<string, number> };
    const skipped = { total: 0, byReason: {} as Record<string, number> };
    let matchedAccepted = 0;
    for (const e of expected) {
      const key = `${e.user.conversationId}\n${e.jobId}`;
      const copies = accepted.get(key) ?? [];
      matchedAccepted += copies.length;
      const times = copies.map((c) => c.at).sort((a, b) => a - b);
      const record = records.get(`${e.jobId}\n${e.recipient}`);
      const issue = (why: string): DeliveryIssue => ({
        jobId: e.jobId,
        recipient: e.recipient,
        accepted: times,
        record: record && {
          status: record.status,
          reason: record.reason,
          claimedAt: record.claimedAt,
          attempts: Number(record.attempts ?? 0),
        },
        why,
      });
      if (copies.length === 0) {
        if (record?.status === 'failed' || record?.status === 'skipped') {
          const tally = record.status === 'failed' ? failed : skipped;
          tally.total++;
          const reason = record.reason ?? '(none)';
          tally.byReason[reason] = (tally.byReason[reason] ?? 0) + 1;
        }
        if (!record || !TERMINAL.has(record.status))
          lost.push(issue(`no message in Teams and the record is ${record?.status ?? 'missing'}`));
        else if (record.status === 'sent') lost.push(issue('recorded sent, but Teams has no message'));
        continue;
      }
      if (copies.length > 1) {
        duplicates.total++;
        if (explainedByCrash(times, record, kills)) duplicates.explained++;
        else duplicates.unexplained.push(issue(`${copies.length} messages in Teams`));
        continue;
      }
      if (record?.status === 'sent' && record.activityId === copies[0]!.activityId) {
        exactlyOnce++;
        continue;
      }
      mismatched.total++;
      if (mismatchExplainedByCrash(times, record, kills)) mismatched.explained++;
      else
        mismatched.unexplained.push(
          issue(`one message in Teams, record ${record?.status ?? 'missing'} ${record?.activityId ?? ''}`),
        );
    }
    if (matchedAccepted !== fake.accepted.length - foreign)
      problems.push(
        `${fake.accepted.length - foreign - matchedAccepted} accepted messages match no expected delivery`,
      );
    if (lost.length > 0) problems.push(`${lost.length} deliveries lost`);
    if (duplicates.unexplained.length > 0)
      problems.push(`${duplicates.unexplained.length} duplicates not explained by the crash window`);
    if (mismatched.unexplained.length > 0)
      problems.push(`${mismatched.unexplained.length} deliveries whose record disagrees with Teams`);

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
    used.host += cpuSecondsOf(host.child.pid) ?? 0;

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
      exactlyOnce,
      duplicates,
      mismatched,
      lost,
      failed,
      skipped,
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

// ---- output ----------------------------------------------------------------------------------------------
const reasons = (byReason: Record<string, number>) =>
  Object.entries(byReason)
    .sort((a, b) => b[1] - a[1])
    .map(([r, n]) => `${r} ${n}`)
    .join(', ') || '—';

/** The figures as a Markdown table (also what the console shows). */
export function summaryTable(r: SoakReport): string {
  const f = r.connector.faults;
  const sum = (prefix: string) =>
    Object.entries(f)
      .filter(([k]) => k.startsWith(prefix))
      .reduce((a, [, n]) => a + n, 0);
  const row = (what: string, value: string | number) => `| ${what} | ${value} |`;
  return [
    '| measure | result |',
    '| --- | --- |',
    row('deliveries expected (job × recipient)', r.expected),
    row('delivered exactly once', r.exactlyOnce),
    row(
      'duplicates (explained by the crash window / not)',
      `${r.duplicates.total} (${r.duplicates.explained} / ${r.duplicates.unexplained.length})`,
    ),
    row('**lost**', `**${r.lost.length}**`),
    row('permanently failed', `${r.failed.total} (${reasons(r.failed.byReason)})`),
    row('skipped', `${r.skipped.total} (${reasons(r.skipped.byReason)})`),
    row(
      'record disagrees with Teams (explained / not)',
      `${r.mismatched.explained} / ${r.mismatched.unexplained.length}`,
    ),
    row('poisoned messages (deliveries / jobs)', `${r.poisoned.deliveries} / ${r.poisoned.jobs}`),
    row(
      'faults injected',
      `5xx ${sum('random:5')}, 429 with Retry-After ${f['random:429'] ?? 0}, 429 without ${f['random:429-no-retry-after'] ?? 0}, ` +
        `timeouts ${f['random:timeout'] ?? 0}, 403 ${f['random:403'] ?? 0}, 404 ${f['random:404'] ?? 0}`,
    ),
    row('429 from rate limiting', f['throttle:429'] ?? 0),
    row(
      'host SIGKILLs / Azurite restarts',
      r.events
        .map(
          (e) => `${e.kind} at ${round(e.atProgress * 100)} % (back in ${round((e.backAt - e.at) / 1000)} s)`,
        )
        .join('; ') || '—',
    ),
    row('connector calls (fault-free minimum)', `${r.connector.calls} (${r.timing.faultFreeCalls})`),
    row(
      'elapsed / rate-limit optimum',
      `${round(r.timing.elapsedMs / 1000)} s / ${round(r.timing.optimumMs / 1000)} s = ${r.timing.ratio}×`,
    ),
    row(
      'CPU over the run (1.0 = one core): Azurite (on disk) / local host',
      `${r.timing.azuriteCpuShare} / ${r.timing.hostCpuShare}`,
    ),
    row('result', r.problems.length === 0 ? 'pass' : `**FAIL**: ${r.problems.join('; ')}`),
  ].join('\n');
}

const START = '<!-- soak:start -->';
const END = '<!-- soak:end -->';

export function resultsSection(r: SoakReport, command: string): string {
  const o = r.options;
  const p = (x: number) => `${round(x * 100, 1)} %`;
  return `${START}
## Soak under faults

Command: \`${command}\`, run ${r.date}.

Machine: Node ${r.machine.node}, ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB RAM, ${r.machine.platform};
1-minute load average ${r.machine.loadAverage[0]} at the start and ${r.machine.loadAverage[1]} at the end (the soak, its host and Azurite share the cores with whatever else runs).

${r.expected} deliveries in ${r.jobs.total} jobs (${r.jobs.single} single-recipient, ${r.jobs.multi} with 2–${o.maxJobSize} recipients)
across ${o.tenants} tenants of ${r.users.perTenant} users (${p(o.firstContactShare)} without a stored chat); recipients named by
Teams user ID (60 %), AAD object ID (20 %) or UPN (20 %). The app ran in the local host as its own process
against an on-disk Azurite; the fake connector answered ${p(o.faults.p5xx)} of calls with a 5xx, ${p(o.faults.p429WithRetryAfter)} with 429 and
Retry-After, ${p(o.faults.p429NoRetryAfter)} with 429 without it, let ${p(o.faults.pTimeout)} time out (the app's \`CONNECTOR_TIMEOUT_MS\` ${o.connectorTimeoutMs}),
${p(o.faults.p403)} a documented 403 and ${p(o.faults.p404)} of chat calls 404 \`ConversationNotFound\`, and enforced
${r.timing.tenantLimitPerSecond}/s per tenant and ${r.timing.conversationLimitPerSecond}/s per chat${o.timeScale === 1 ? " (Teams' limits)" : ` (Teams' limits × ${o.timeScale})`}, the app's settings being the same.

${summaryTable(r)}

- **Exactly once** = Teams holds one message for that job and chat and the record says \`sent\` with its activity ID.
  **Lost** = Teams holds none and the record is missing, not final, or says \`sent\`. A **duplicate** is explained only
  if every extra copy was accepted before a killed host's exit was seen and the next one after it, the record counts a claim per copy, and its last claim
  came after that kill (the crash window in docs/delivery.md); any other duplicate fails the soak.
- **Optimum** = the busiest tenant's fault-free connector calls (one send per delivery plus one
  createConversation per first-contact user) ÷ the tenant limit (tenants are limited independently), or the busiest
  chat's deliveries ÷ the chat limit if that is longer. Elapsed runs from the first job enqueued to the last record
  completed. The gap comes from the faults (Retry-After waits, timeouts, queue retries after the visibility
  timeout, the killed host's messages coming back after \`LOCAL_HOST_QUEUE_LEASE_MS\` (${o.queueLeaseMs} ms), the Azurite
  outage), from the local host's concurrency (host.json's \`batchSize\` + \`newBatchThreshold\` deliveries at a time)
  against an on-disk Azurite, and from CPU contention on a shared machine.
- Permanently failed deliveries are the 403s (the user is then marked inactive, so later jobs to them fail
  with \`RecipientInactive\` without calling Teams) and whatever exhausted its retries.
${END}`;
}

// ---- CLI ---------------------------------------------------------------------------------------------------
function number(min: number, max: number, integer = false) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n)))
      throw new InvalidArgumentError(`expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
    return n;
  };
}

async function main(argv: string[]): Promise<number> {
  const d = DEFAULT_OPTIONS;
  const f = DEFAULT_FAULTS;
  const program = new Command()
    .name('npm run soak --')
    .description('Soak the delivery pipeline under faults and reconcile Teams with the delivery records.')
    .option(
      '--deliveries <n>',
      'deliveries (job × recipient) to push',
      number(10, 1_000_000, true),
      d.deliveries,
    )
    .option('--tenants <n>', 'tenants', number(1, 20, true), d.tenants)
    .option(
      '--time-scale <x>',
      "multiply Teams' rate limits (connector and app)",
      number(0.1, 14),
      d.timeScale,
    )
    .option('--kills <n>', 'SIGKILLs of the host', number(0, 10, true), d.kills)
    .option('--azurite-restarts <n>', 'Azurite restarts', number(0, 10, true), d.azuriteRestarts)
    .option('--seed <n>', 'random seed (jobs and faults)', number(0, 2 ** 31, true), d.seed)
    .option('--p5xx <p>', 'share of calls answered 5xx', number(0, 1), f.p5xx)
    .option('--p429 <p>', 'share answered 429 with Retry-After', number(0, 1), f.p429WithRetryAfter)
    .option(
      '--p429-no-retry-after <p>',
      'share answered 429 without Retry-After',
      number(0, 1),
      f.p429NoRetryAfter,
    )
    .option('--p-timeout <p>', 'share of calls that time out', number(0, 1), f.pTimeout)
    .option('--p403 <p>', 'share answered with a documented 403', number(0, 1), f.p403)
    .option('--p404 <p>', 'share of chat calls answered 404 ConversationNotFound', number(0, 1), f.p404)
    .option(
      '--connector-timeout-ms <ms>',
      'the app CONNECTOR_TIMEOUT_MS',
      number(100, 120_000, true),
      d.connectorTimeoutMs,
    )
    .option(
      '--lease-ms <ms>',
      'LOCAL_HOST_QUEUE_LEASE_MS of the host',
      number(2000, 600_000, true),
      d.queueLeaseMs,
    )
    .option('--visibility-timeout-ms <ms>', 'override host.json visibilityTimeout', number(0, 600_000, true))
    .option('--timeout-s <s>', 'give up waiting for quiescence after this long', number(10, 86_400))
    .option('--results <file>', 'write the soak section of this Markdown file', 'bench/RESULTS.md')
    .option('--no-results', 'do not write a results file')
    .option('--json <file>', 'also write the full report as JSON')
    .option('--keep-data', 'keep the Azurite workspace and host log', false)
    .option(
      '--host-log-level <level>',
      "the host's log level (Information: a line per delivery)",
      d.hostLogLevel,
    )
    .allowExcessArguments(false);
  program.parse(argv);
  const a = program.opts<{
    deliveries: number;
    tenants: number;
    timeScale: number;
    kills: number;
    azuriteRestarts: number;
    seed: number;
    p5xx: number;
    p429: number;
    p429NoRetryAfter: number;
    pTimeout: number;
    p403: number;
    p404: number;
    connectorTimeoutMs: number;
    leaseMs: number;
    visibilityTimeoutMs?: number;
    timeoutS?: number;
    results: string | false;
    json?: string;
    keepData: boolean;
    hostLogLevel: string;
  }>();
  const report = await runSoak({
    deliveries: a.deliveries,
    tenants: a.tenants,
    timeScale: a.timeScale,
    kills: a.kills,
    azuriteRestarts: a.azuriteRestarts,
    seed: a.seed,
    faults: {
      p5xx: a.p5xx,
      p429WithRetryAfter: a.p429,
      p429NoRetryAfter: a.p429NoRetryAfter,
      pTimeout: a.pTimeout,
      p403: a.p403,
      p404: a.p404,
    },
    connectorTimeoutMs: a.connectorTimeoutMs,
    queueLeaseMs: a.leaseMs,
    visibilityTimeoutMs: a.visibilityTimeoutMs,
    quiescenceTimeoutMs: a.timeoutS === undefined ? undefined : a.timeoutS * 1000,
    keepData: a.keepData,
    hostLogLevel: a.hostLogLevel,
  });
  const command = ['npm run soak', ...(argv.length > 2 ? ['--', ...argv.slice(2)] : [])].join(' ');
  console.log(`\n${summaryTable(report)}\n`);
  for (const issue of [
    ...report.lost,
    ...report.duplicates.unexplained,
    ...report.mismatched.unexplained,
  ].slice(0, 20))
    console.log(
      `  ${issue.why}: job ${issue.jobId}, ${issue.recipient}, accepted at ${issue.accepted.join(', ')}, record ${JSON.stringify(issue.record)}`,
    );
  if (report.workDir) console.log(`Workspace and host log kept in ${report.workDir}`);
  if (a.results) {
    writeSection(path.resolve(ROOT, a.results), 'soak', resultsSection(report, command));
    await formatMarkdown(path.resolve(ROOT, a.results));
    console.log(`Wrote the soak section of ${a.results}`);
  }
  if (a.json) writeFileSync(path.resolve(a.json), JSON.stringify(report, null, 2) + '\n');
  return report.problems.length === 0 ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
