/**
 * Scale-out broadcast: K local-host processes (the app as the Functions host runs it) share one Azurite
 * and one Teams-like connector enforcing Teams' limits. Jobs go in through POST /api/notifications,
 * are fanned out by the jobs queue function and delivered by the deliveries queue function; the
 * benchmark only seeds the store, posts the jobs and watches the connector.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pMap from 'p-map';
import { loadConfig } from '../shared/config.js';
import { buildServices } from '../shared/container.js';
import { deployDir } from '../scripts/deploy/layout.js';
import { startLocalHostProcess, type LocalHostProcess } from '../scripts/local-host/child.js';
import { startRamDiskAzurite } from './ramAzurite.js';
import { cpuSecondsOfTree } from './cpu.js';
import { startFakeConnector, type CallRecord } from '../test/support/fakeConnector.js';
import { busiestWindow } from '../test/support/windows.js';

const BOT_ID = '28:00000000-0000-0000-0000-00000000b0b0';
const KEY = 'bench-key';
const TENANT_LIMIT = 50;
const CONV_LIMIT = 7;
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ScaleOutOptions {
  root: string;
  instances: number;
  tenants: number;
  recipientsPerTenant: number;
  jobsPerTenant: number;
}

export async function scaleOut(o: ScaleOutOptions) {
  const store = await startRamDiskAzurite('scaleout');
  try {
    return await scaleOutOn(o, store.connectionString, store.cpuSeconds);
  } finally {
    await store.stop();
  }
}

async function scaleOutOn(o: ScaleOutOptions, connectionString: string, azuriteCpu: () => number) {
  const fake = await startFakeConnector({
    rateLimits: {
      perAppTenant: [{ limit: TENANT_LIMIT, windowMs: 1000 }],
      perConversation: [{ limit: CONV_LIMIT, windowMs: 1000 }],
      retryAfter: true,
    },
  });
  const s = buildServices({
    ...loadConfig({ ...process.env, AzureWebJobsStorage: connectionString }),
    defaultServiceUrl: fake.url,
    tenantBudget: 'local',
  });
  const tenants = Array.from({ length: o.tenants }, () => randomUUID());
  // Roster members: known by UPN, never talked to the bot, so no chat is stored.
  const upns = new Map<string, string[]>();
  for (const tenantId of tenants) {
    await s.conversations.saveTenant({ tenantId, serviceUrl: fake.url, botId: BOT_ID });
    const list = Array.from(
      { length: o.recipientsPerTenant },
      (_, i) => `user${i}@${tenantId.slice(0, 8)}.example`,
    );
    upns.set(tenantId, list);
    await pMap(
      list,
      (upn, i) =>
        s.conversations.saveUser(
          tenantId,
          { userId: `29:scale-${tenantId.slice(0, 8)}-${i}`, upn, name: `Member ${i}`, serviceUrl: fake.url },
          { source: 'team:19:bench-team@thread.tacv2' },
        ),
      { concurrency: 32 },
    );
  }

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AzureWebJobsStorage: connectionString,
    FUNCTIONS_KEY: KEY,
    MicrosoftAppId: '',
    BOT_SERVICE_URL: fake.url,
    RECIPIENT_HOURLY_CAP: '100000',
  };
  delete env.APPLICATIONINSIGHTS_CONNECTION_STRING;
  const hostProblems: string[] = [];
  // BENCH_TRACE=<dir>: every host line with its arrival time, and a probe of this process and Azurite.
  const traceDir = process.env.BENCH_TRACE;
  if (traceDir) {
    mkdirSync(traceDir, { recursive: true });
    env.AzureFunctionsJobHost__logging__logLevel__default = 'Debug';
  }
  const hosts: LocalHostProcess[] = await Promise.all(
    Array.from({ length: o.instances }, (_, h) =>
      startLocalHostProcess({
        root: deployDir(o.root),
        port: 0,
        env,
        // Warnings and errors only (one line per invocation would be most of the run's I/O).
        onLine: (line) => {
          if (traceDir) appendFileSync(join(traceDir, `host-${h}.log`), `${Date.now()} ${line}\n`);
          if (/warn|error|fail|timed out|throttl|retry|poison/i.test(line) && hostProblems.length < 200)
            hostProblems.push(line.slice(0, 300));
        },
      }),
    ),
  );
  const load = os.loadavg()[0]!;
  const total = o.tenants * o.recipientsPerTenant;
  const tenantOfCall = (c: CallRecord) =>
    c.route === 'createConversation'
      ? String(
          (c.body as { tenantId?: string; channelData?: { tenant?: { id?: string } } })?.channelData?.tenant
            ?.id ?? (c.body as { tenantId?: string })?.tenantId,
        )
      : fake.conversations.get(c.conversationId ?? '')?.tenantId;
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const probe = traceDir
    ? setInterval(() => {
        const started = Date.now();
        const lagMs = lag.max / 1e6;
        lag.reset();
        void s.conversations.getTenant(tenants[0]!).then(() => {
          const line = {
            t: started,
            lagMs: round(lagMs),
            azuriteMs: Date.now() - started,
            calls: fake.calls.length,
          };
          appendFileSync(join(traceDir, 'probe.jsonl'), `${JSON.stringify(line)}\n`);
        });
      }, 250)
    : undefined;
  const cpuNow = () => [
    azuriteCpu(),
    hosts.reduce((a, h) => a + (cpuSecondsOfTree(h.child.pid) ?? 0), 0),
    process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
  ];
  try {
    const cpu0 = cpuNow();
    const t0 = Date.now();
    const jobIds: Array<{ tenantId: string; jobId: string }> = [];
    let n = 0;
    await Promise.all(
      tenants.flatMap((tenantId) => {
        const list = upns.get(tenantId)!;
        const size = Math.ceil(list.length / o.jobsPerTenant);
        return Array.from({ length: o.jobsPerTenant }, async (_, j) => {
          const host = hosts[n++ % hosts.length]!;
          const res = await fetch(`${host.url}/api/notifications`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-functions-key': KEY },
            body: JSON.stringify({
              tenantId,
              recipients: list.slice(j * size, (j + 1) * size).map((upn) => ({ upn })),
              message: { text: 'Scale-out benchmark notification' },
            }),
          });
          const body = (await res.json()) as { jobId?: string };
          if (res.status !== 202 || !body.jobId)
            throw new Error(`job not accepted: ${res.status} ${JSON.stringify(body)}`);
          jobIds.push({ tenantId, jobId: body.jobId });
        });
      }),
    );
    const optimumS = (2 * o.recipientsPerTenant) / TENANT_LIMIT;
    const deadline = t0 + optimumS * 3000 + 30_000;
    const reached = () => new Set(fake.accepted.map((a) => a.conversationId)).size;
    while (reached() < total && Date.now() < deadline) await sleep(200);
    // A little longer, so late duplicates would show.
    await sleep(2000);

    const accepted = new Map<string, number>();
    for (const a of fake.accepted) accepted.set(a.conversationId, (accepted.get(a.conversationId) ?? 0) + 1);
    const perTenant = tenants.map((tenantId) => {
      const mine = fake.accepted.filter(
        (a) => fake.conversations.get(a.conversationId)?.tenantId === tenantId,
      );
      const last = Math.max(...mine.map((a) => a.at));
      const calls = fake.calls.filter((c) => tenantOfCall(c) === tenantId);
      const admitted = calls.filter((c) => c.status >= 200 && c.status < 300).map((c) => c.at);
      const elapsedS = (last - t0) / 1000;
      const first = Math.min(...admitted);
      const perSecond: number[] = [];
      for (const at of admitted) {
        const i = Math.floor((at - t0) / 1000);
        perSecond[i] = (perSecond[i] ?? 0) + 1;
      }
      return {
        tenantId,
        firstCallS: round((first - t0) / 1000, 2),
        perSecond: Array.from(perSecond, (x) => x ?? 0),
        reached: new Set(mine.map((a) => a.conversationId)).size,
        elapsedS: round(elapsedS, 2),
        optimumS,
        ratio: round(elapsedS / optimumS, 3),
        shareOfBudget: round(optimumS / elapsedS, 3),
        calls: calls.length,
        throttled429: calls.filter((c) => c.status === 429).length,
        busiestSecond: busiestWindow(admitted),
      };
    });
    // Lost: a recipient with neither an accepted message nor a terminal record.
    let terminal = 0;
    const statuses: Record<string, number> = {};
    for (const { tenantId, jobId } of jobIds) {
      for (const d of await s.deliveryRecords.listForJob(tenantId, jobId)) {
        statuses[d.status] = (statuses[d.status] ?? 0) + 1;
        if (['sent', 'failed', 'skipped'].includes(d.status)) terminal++;
      }
    }
    const cpu1 = cpuNow();
    const runS = (Date.now() - t0) / 1000;
    // CPU used per second of the run (1.0 = one core): Azurite, all hosts together, this process (connector).
    const cpuShare = {
      azurite: round((cpu1[0]! - cpu0[0]!) / runS, 2),
      hosts: round((cpu1[1]! - cpu0[1]!) / runS, 2),
      bench: round((cpu1[2]! - cpu0[2]!) / runS, 2),
    };
    const reachedAll = reached();
    const calls = fake.calls.length;
    const throttled = fake.calls.filter((c) => c.status === 429).length;
    const result = {
      instances: o.instances,
      tenants: o.tenants,
      recipientsPerTenant: o.recipientsPerTenant,
      jobsPerTenant: o.jobsPerTenant,
      loadAverage1m: round(load, 2),
      loadAverageEnd1m: round(os.loadavg()[0]!, 2),
      elapsedS: round(Math.max(...perTenant.map((t) => t.elapsedS)), 2),
      optimumS,
      ratio: round(Math.max(...perTenant.map((t) => t.ratio)), 3),
      minShareOfBudget: round(Math.min(...perTenant.map((t) => t.shareOfBudget)), 3),
      calls,
      throttled429: throttled,
      share429: round(throttled / Math.max(1, calls), 4),
      lost: Math.max(0, total - Math.max(reachedAll, terminal)),
      duplicates: [...accepted.values()].filter((c) => c > 1).length,
      busiestSecond: Math.max(...perTenant.map((t) => t.busiestSecond)),
      cpuShare,
      statuses,
      perTenant,
      hostProblems: hostProblems.length,
      hostProblemSample: hostProblems.slice(0, 5),
    };
    console.log(`scale-out: ${JSON.stringify(result)}`);
    if (traceDir) {
      const rows = fake.calls.map((c) => ({
        at: c.at,
        route: c.route,
        status: c.status,
        tenant: (tenants as string[]).indexOf(String(tenantOfCall(c))),
        conv: c.conversationId,
      }));
      appendFileSync(join(traceDir, 'calls.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
      appendFileSync(join(traceDir, 'result.json'), JSON.stringify({ t0, ...result }));
    }
    return result;
  } finally {
    clearInterval(probe);
    lag.disable();
    await Promise.all(hosts.map((h) => h.stop()));
    await fake.stop();
  }
}
