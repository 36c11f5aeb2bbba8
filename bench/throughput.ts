/**
 * Scenario 1, throughput: one instance, an instant connector, chats cached, user cache warm, the
 * shared tenant budget on; deliveries per second and the CPU each process used.
 */
import os from 'node:os';
import pMap from 'p-map';
import { cpuSecondsOf } from './cpu.js';
import { attempt, round, seedUsers, services, task, type StartFake } from './common.js';

const ownCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** `azuritePid`: the storage emulator's process, whose CPU time is reported beside the bench's own. */
export async function throughput(startFake: StartFake, azuritePid: number | undefined) {
  const azuriteCpuSeconds = () => cpuSecondsOf(azuritePid);
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
