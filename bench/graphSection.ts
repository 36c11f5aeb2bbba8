/**
 * The Graph group benchmark's part of `npm run bench` (bench/graphAudience.ts): runs it and writes
 * its section of RESULTS.md and bench/graph-results.json. BENCH_GRAPH_MEMBERS and
 * BENCH_GRAPH_INSTANCES change the size (defaults: the issue's 5,000 members on 3 hosts).
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { graphBenchmark, LIMITS } from './graphAudience.js';
import { formatMarkdown, writeSection } from './results.js';

type Result = Awaited<ReturnType<typeof graphBenchmark>>;
const pct = (x: number) => `${Math.round(x * 10_000) / 100} %`;
const met = (ok: boolean) => (ok ? 'met' : '**not met**');

export async function graphBench(root: string): Promise<Result> {
  const result = await graphBenchmark({
    root,
    members: Number(process.env.BENCH_GRAPH_MEMBERS ?? 5000),
    neverInstalledShare: 0.6,
    instances: Number(process.env.BENCH_GRAPH_INSTANCES ?? 3),
  });
  console.log(`graph: ${JSON.stringify(result)}`);
  const file = join(root, 'bench', 'RESULTS.md');
  writeSection(file, 'graph', graphMarkdown(result, new Date().toISOString()));
  await formatMarkdown(file);
  writeFileSync(join(root, 'bench', 'graph-results.json'), JSON.stringify(result, null, 2) + '\n');
  return result;
}

export function graphMarkdown(r: Result, at: string): string {
  const p = r.optimumParts as Record<string, number>;
  const routes = Object.entries(r.graphByRoute)
    .map(([route, c]) => `${route} ${c.calls} (${c.throttled} × 429)`)
    .join(', ');
  return `<!-- graph:start -->
## Microsoft Graph: one job to an Entra group of ${r.members} (issue 23)

Command: \`BENCH_ONLY=graph npm run bench\` (also part of the full run), run ${at}. ${os.cpus().length} cores, 1-minute
load average ${r.loadAverage1m} at the start. \`bench/graphAudience.ts\`: ${r.instances} local-host processes
(\`dist/scripts/local-host.js\` in \`dist/deploy\`) share one Azurite; a job \`{ "groupId": ... }\` goes in through
\`POST /api/notifications\`. The group's ${r.members} users are read from the fake Graph
(\`scripts/sandbox/fakeGraph/\`), which enforces Microsoft's documented limits; ${r.neverInstalled} of them
(${Math.round((r.neverInstalled / r.members) * 100)} %) never installed the app (the app installs itself for them), the others
are stored with their chat. The Teams-like connector enforces Teams' limits (${LIMITS.connectorPerSecond}/s per app
and tenant, 7/s per chat). Real limits, no time scaling.

| Measure | Result | Target | |
| --- | --- | --- | --- |
| Members with exactly one message | ${r.reached - r.duplicates} of ${r.members} | all | ${met(r.reached === r.members && r.duplicates === 0)} |
| Lost (no message and no final record) | ${r.lost} | 0 | ${met(r.lost === 0)} |
| Duplicates (a member with more than one message) | ${r.duplicates} | 0 | ${met(r.duplicates === 0)} |
| Graph calls answered 429 (${r.graph429} of ${r.graphCalls}) | ${pct(r.graphShare429)} | ≤ 1 % | ${met(r.graphShare429 <= 0.01)} |
| Elapsed / optimum (${r.elapsedS} s / ${r.optimumS} s) | ${r.ratio}× | ≤ 1.2× | ${met(r.ratio <= 1.2)} |
| Bot Connector calls answered 429 | ${r.connector429} of ${r.connectorCalls} | (report) | — |

**The optimum.** Microsoft's limits, per app per tenant: Graph's Teams service allows 30 requests/s
of "GET ... installedApps, appCatalogs" and 30/s of "POST/PUT ... installedApps, appCatalogs"; its
identity service 8,000 resource units per 10 s for a tenant over 500 users (a user read costs 1, a
\`transitiveMembers\` page 4 with \`$select\`) (microsoft-graph-docs-contrib concepts/throttling-limits.md);
the Bot Connector 50/s (docs/rate-limits.md). Each of the ${r.neverInstalled} never-installed members
needs one install, two installedApps reads (its installation, then the installation's chat, read
under installedApps' path and counted with them), one user read, one Bot Connector member read (its
Teams user ID in the new chat) and one send; each of the ${r.members - r.neverInstalled} others one send.
The limits are separate, so they work side by side and the busiest sets the pace:

- Graph installedApps reads: 2 × ${r.neverInstalled} / 30 = ${p.graphTeamsReads} s
- Graph installs: ${r.neverInstalled} / 30 = ${p.graphTeamsWrites} s
- Graph identity: (${r.neverInstalled} + 4 × pages) units / 800 = ${p.graphIdentity} s
- Bot Connector: (${r.members - r.neverInstalled} + 2 × ${r.neverInstalled}) / 50 = ${p.connector} s

Optimum: ${r.optimumS} s (the largest). Elapsed is from the job's POST to the last accepted message.
The app plans each budget at 97 % of its limit (headroom for jitter), so 1/0.97 = 1.03× is the floor.

Graph calls by route: ${routes}. Delivery records: ${JSON.stringify(r.statuses)}. CPU (hosts and Azurite,
1.0 = one core): ${r.cpuShare} on ${os.cpus().length} cores. Host warnings: ${r.hostProblems}${r.hostProblems ? ` (e.g. ${r.hostProblemSample[0]})` : ''}.
<!-- graph:end -->`;
}
