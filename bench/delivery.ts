/**
 * The delivery benchmark (scenarios 1–5: throughput, cost per DM, broadcast, start-up, scale-out):
 * runs them in turn and writes bench/results.json and the body of bench/RESULTS.md.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { startFakeConnector } from '../test/support/fakeConnector.js';
import { broadcast } from './broadcast.js';
import { ROOT, round, stopLimiter } from './common.js';
import { costPerDm } from './costPerDm.js';
import { deliveryMarkdown, type DeliveryResults } from './deliveryReport.js';
import { formatMarkdown, writeBody } from './results.js';
import { scaleOut } from './scaleOut.js';
import { startup } from './startup.js';
import { throughput } from './throughput.js';

export async function deliveryBenchmark(connectionString: string, azuritePid: number): Promise<void> {
  const t0 = Date.now();
  const startFake = startFakeConnector;
  const tput = await throughput(startFake, azuritePid);
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
  const results: DeliveryResults = {
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
  writeBody(join(here, 'RESULTS.md'), deliveryMarkdown(results));
  await formatMarkdown(join(here, 'RESULTS.md'));
  const k = cost.knownWarm;
  console.log(
    `\nSummary: ${tput.result.perSecond} deliveries/s; warm known DM ${k.storageAvg} storage tx + ${k.connectorAvg} connector call; ` +
      `cold known ${cost.knownCold.storageAvg}; first contact ${cost.firstContact.storageAvg} tx + ${cost.firstContact.connectorAvg} calls; ` +
      `broadcast ${bc.seconds} s, ${round(bc.shareOfBudget * 100, 1)} % of budget, ${round(bc.share429 * 100, 2)} % 429, lost ${bc.lost}, duplicates ${bc.duplicates}; ` +
      `start-up ${up.bundledTelemetryOn.medianMs} ms bundled with telemetry (unbundled ${up.unbundledTelemetryOn.medianMs} ms)`,
  );
  console.log(`Wrote bench/RESULTS.md and bench/results.json (${results.totalSeconds} s)`);
}
