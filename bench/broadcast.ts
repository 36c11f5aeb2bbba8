/**
 * Scenario 3, broadcast: one job's deliveries to many recipients with a stored chat, against the
 * connector enforcing Teams' limits (time-scaled by default); share of the budget, 429s, lost,
 * duplicates and storage transactions per DM.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { AttemptContext, DeliveryTask } from '../shared/delivery/task.js';
import {
  attempt,
  calls,
  round,
  seedUsers,
  services,
  sleep,
  stopLimiter,
  task,
  teamsLimited,
  TENANT,
  type StartFake,
} from './common.js';
import { countStorageRequests, type RequestCounter } from './storageRequests.js';

export async function broadcast(startFake: StartFake, opts: { scale?: number; recipients?: number } = {}) {
  // Teams' limits sped up so 10,000 recipients take under a minute; at 5× (250/s) the run measures the
  // limiter's use of the budget rather than this 2-core machine's delivery throughput.
  const SCALE = opts.scale ?? Number(process.env.BENCH_BROADCAST_SCALE ?? 5);
  const TENANT_LIMIT = 50 * SCALE;
  const CONV_LIMIT = 7 * SCALE;
  const RECIPIENTS = opts.recipients ?? 10_000;
  const CONCURRENCY = 64;
  const fake = await startFake(teamsLimited(TENANT_LIMIT, CONV_LIMIT));
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
