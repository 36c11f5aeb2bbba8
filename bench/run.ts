/**
 * `npm run bench`: starts an in-memory Azurite and runs the scenarios, each its own module, writing
 * bench/RESULTS.md (the delivery table as its body, the others as marked sections) and the JSON
 * beside it. BENCH_ONLY=<name> runs one scenario (names below); without it, all in this order.
 *
 * Run: npm run bench  →  writes bench/RESULTS.md and bench/results.json.
 */
import { audienceResults } from './audience.js';
import { broadcast } from './broadcast.js';
import { ROOT, stopLimiter } from './common.js';
import { deliveryBenchmark } from './delivery.js';
import { deployZipResults } from './deployZip.js';
import { graphBench } from './graphSection.js';
import { lanesResults } from './lanesSection.js';
import { handlers } from './requestHandlers.js';
import { scaleOut } from './scaleOut.js';
import { startup } from './startup.js';
import { throughput } from './throughput.js';
import { startAzurite } from '../scripts/sandbox/azurite.js';
import { startFakeConnector } from '../test/support/fakeConnector.js';

interface Storage {
  connectionString: string;
  pid: number;
}

/** The whole run: the delivery table (scenarios 1–5), then each section of its own. */
const all = async (storage: Storage) => {
  await deliveryBenchmark(storage.connectionString, storage.pid);
  await audienceResults(ROOT);
  await deployZipResults(ROOT);
  await handlers(ROOT);
  await graphBench(ROOT);
  await lanesResults(ROOT);
};

/** One scenario alone: those with a section write it; the others print their figures. */
const only: Record<string, (storage: Storage) => Promise<unknown>> = {
  startup: async ({ connectionString }) => console.log(JSON.stringify(await startup(connectionString))),
  audience: () => audienceResults(ROOT),
  handlers: () => handlers(ROOT),
  graph: () => graphBench(ROOT),
  lanes: () => lanesResults(ROOT),
  scaleout: () =>
    scaleOut({
      root: ROOT,
      instances: Number(process.env.BENCH_K ?? 3),
      tenants: Number(process.env.BENCH_TENANTS ?? 1),
      recipientsPerTenant: Number(process.env.BENCH_RECIPIENTS ?? 1200),
      jobsPerTenant: 3,
    }),
  broadcast: async () => {
    const recipients = Number(process.env.BENCH_BROADCAST_RECIPIENTS ?? 10_000);
    console.log(JSON.stringify(await broadcast(startFakeConnector, { recipients })));
  },
  throughput: async ({ pid }) => {
    const tput = await throughput(startFakeConnector, pid);
    await stopLimiter(tput.s);
    await tput.fake.stop();
  },
};

async function main() {
  const name = process.env.BENCH_ONLY;
  const scenario = name ? only[name] : all;
  if (!scenario) throw new Error(`BENCH_ONLY=${name}: no such scenario (${Object.keys(only).join(', ')})`);
  const azurite = await startAzurite();
  try {
    // The in-process scenarios build the app's services from the environment, as the host does.
    process.env.AzureWebJobsStorage = azurite.connectionString;
    await scenario({ connectionString: azurite.connectionString, pid: azurite.pid });
  } finally {
    await azurite.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
