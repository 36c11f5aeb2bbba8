/**
 * The lanes benchmark's part of `npm run bench` (bench/lanes.ts): runs it on this checkout (the
 * "after"), writes bench/lanes-results.json and the `lanes` section of RESULTS.md beside the "before"
 * figures kept in bench/lanes-before.json (the same scenario run on main before lanes; the section
 * says how to make them again).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { lanesBenchmark } from './lanes.js';
import { checkout, lanesScenario } from './lanesCli.js';
import { formatMarkdown, writeSection } from './results.js';

type Run = Awaited<ReturnType<typeof lanesBenchmark>> & {
  date: string;
  commit: string;
  appModified: boolean;
};

/** The commit the "before" figures come from: main before lanes. */
export const BEFORE_COMMIT = '4c34e7a';

const met = (ok: boolean) => (ok ? 'met' : '**not met**');
const pct = (x: number) => `${Math.round(x * 1000) / 10} %`;
const s = (x: number) => `${x} s`;

export async function lanesResults(root: string): Promise<Run> {
  const after: Run = {
    date: new Date().toISOString(),
    ...checkout(root),
    ...(await lanesBenchmark(lanesScenario(root))),
  };
  console.log(`lanes: ${JSON.stringify(after)}`);
  writeFileSync(join(root, 'bench', 'lanes-results.json'), JSON.stringify(after, null, 2) + '\n');
  const beforeFile = join(root, 'bench', 'lanes-before.json');
  const before = existsSync(beforeFile) ? (JSON.parse(readFileSync(beforeFile, 'utf8')) as Run) : undefined;
  const file = join(root, 'bench', 'RESULTS.md');
  writeSection(file, 'lanes', lanesMarkdown(after, before));
  await formatMarkdown(file);
  return after;
}

/** Whether a run meets the issue's targets (the "after" is held to them). */
export function lanesTargets(r: Run) {
  return {
    urgent: r.urgent.p95S <= 2 && r.urgent.maxS <= 5 && r.urgent.n === r.urgentJobs,
    normal: r.normal.p95S <= 15 && r.normal.n === r.normalJobs * r.normalSize,
    bulk: r.bulk.shareOfBudget >= 0.9,
    lost: r.lost === 0,
    duplicates: r.duplicates === 0,
  };
}

const commitOf = (r: Run) => `\`${r.commit}\`${r.appModified ? ' with uncommitted changes' : ''}`;
const waits = (w: Run['urgent']) => `${w.p50S} / ${w.p95S} / ${w.maxS} s`;

export function lanesMarkdown(a: Run, b: Run | undefined): string {
  const t = lanesTargets(a);
  const col = (f: (r: Run) => string | number) => `${b ? `${f(b)} | ` : ''}${f(a)}`;
  const both = [...(b ? [b] : []), a];
  const row = (measure: string, f: (r: Run) => string | number, target: string, ok?: boolean) =>
    `| ${measure} | ${col(f)} | ${target} | ${ok === undefined ? '—' : met(ok)} |`;
  return `<!-- lanes:start -->

## Lanes: urgent and normal jobs while a ${a.bulkRecipients}-person first-contact broadcast drains (issue 24)

\`bench/lanes.ts\`: ${a.instances} local-host processes (\`dist/scripts/local-host.js\` in \`dist/deploy\`, the
bundled app as the Functions host runs it) share one Azurite; the Teams-like connector enforces Teams' limits
(50 calls/s per app and tenant, 7/s per chat, 429 with Retry-After), no time scaling. One team audience job of
${a.bulkRecipients} members, all first contact (a createConversation and a send each, so ${a.bulk.optimumS} s at 50/s),
goes in through \`POST /api/notifications\`; then ${a.urgentJobs} single-recipient urgent jobs and ${a.normalJobs}
${a.normalSize}-recipient normal jobs (first contact too) are posted at seeded random moments over the first 85 % of
that drain. A wait is from a small job's POST to Teams' acceptance of its recipient's message. On the "before"
commit the job contract has no \`priority\`, so the same jobs go without it.

| Measure | ${b ? `Before (${commitOf(b)}) | ` : ''}After (${commitOf(a)}) | Target | |
| --- | ${b ? '--- | ' : ''}--- | --- | --- |
${[
  row(
    'Scenario: bulk recipients; urgent jobs; normal jobs × recipients',
    (r) => `${r.bulkRecipients}; ${r.urgentJobs}; ${r.normalJobs} × ${r.normalSize}`,
    'the same',
  ),
  row('Urgent: wait p50 / p95 / max', (r) => waits(r.urgent), 'p95 ≤ 2 s, max ≤ 5 s', t.urgent),
  row('Normal: wait p50 / p95 / max', (r) => waits(r.normal), 'p95 ≤ 15 s', t.normal),
  row(
    'Bulk job: its calls per second over its span ÷ 50',
    (r) => `${pct(r.bulk.shareOfBudget)} (${r.bulk.calls} calls in ${r.bulk.spanS} s)`,
    '≥ 90 %',
    t.bulk,
  ),
  row(
    'Bulk job: POST to its last call / optimum',
    (r) => `${s(r.bulk.elapsedS)} / ${s(r.bulk.optimumS)}`,
    'report',
  ),
  row('All calls per second over the bulk span ÷ 50', (r) => pct(r.allCallsShareOfBudget), 'report'),
  row('Lost (no message and no final record)', (r) => r.lost, '0', t.lost),
  row('Duplicates (a chat with more than one message)', (r) => r.duplicates, '0', t.duplicates),
  row(
    'Urgent messages sent with `notification.alert`',
    (r) => `${r.urgentAlerted} of ${r.urgentJobs}`,
    'report',
  ),
  row(
    'Calls answered 429 / all calls; busiest second',
    (r) => `${r.throttled429} / ${r.calls}; ${r.busiestSecond}`,
    'report',
  ),
  row('Small jobs refused', (r) => r.smallRefused, '0'),
  row(
    '1-minute load average at the first POST / at the end',
    (r) => `${r.loadAverage1m} / ${r.loadAverageEnd1m}`,
    'report',
  ),
  row('CPU of hosts and Azurite (1.0 = one core)', (r) => r.cpuShare, 'report'),
  row('Host warnings', (r) => r.hostProblems, 'report'),
  row('Run', (r) => r.date, '—'),
].join('\n')}

${os.cpus().length} cores, shared with other work: each run was started once the 1-minute load was at most 1.5 (it
counts seeding and the hosts' start too, so it is higher at the first POST). Arrival seed ${lanesScenario('').seed}; the same moments on both commits.
The bulk job's share counts its own calls only: the small jobs' ${2 * (a.urgentJobs + a.normalJobs * a.normalSize)} calls
(first contact: two per recipient) take part of the same budget during its span.
${both.map((r) => (r.hostProblems ? `Host warning on ${r.commit}, e.g. \`${r.hostProblemSample[0]}\`.` : '')).join(' ')}

**Reproduce.** After: \`BENCH_ONLY=lanes npm run bench\` (writes this section and \`bench/lanes-results.json\`;
\`BENCH_LANES_BULK=1500\` for a quick try). Before: the same two files run on the older commit, from this checkout:

\`\`\`sh
git worktree add /tmp/before ${BEFORE_COMMIT}
cp bench/lanes.ts bench/lanesCli.ts /tmp/before/bench/
(cd /tmp/before && npm ci && npm run build:bench && ./node_modules/.bin/node dist/bench/lanesCli.js --out "$OLDPWD/bench/lanes-before.json")
BENCH_ONLY=lanes npm run bench
\`\`\`

(\`./node_modules/.bin/node\`: the project's own Node 22.) The last line writes this section with both runs.
<!-- lanes:end -->`;
}
