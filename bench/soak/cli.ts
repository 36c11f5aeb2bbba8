/** The soak's command line (bench/soak.ts is the entry `npm run soak` runs). */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { formatMarkdown, writeSection } from '../results.js';
import { resultsSection, summaryTable } from './report.js';
import { DEFAULT_FAULTS, DEFAULT_OPTIONS, type SoakOptions, type SoakReport } from './types.js';

function number(min: number, max: number, integer = false) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n)))
      throw new InvalidArgumentError(`expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
    return n;
  };
}

/** `npm run soak -- …`: runs the soak, prints the summary, writes the soak section of RESULTS.md. */
export async function main(
  argv: string[],
  // Passed in by the entry (bench/soak.ts), which imports this module: no import cycle.
  { runSoak, root: ROOT }: { runSoak: (o: Partial<SoakOptions>) => Promise<SoakReport>; root: string },
): Promise<number> {
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
    .option(
      '--worker-restarts <n>',
      "restarts of the host's language worker as at a function timeout",
      number(0, 10, true),
      d.workerRestarts,
    )
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
    workerRestarts: number;
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
    workerRestarts: a.workerRestarts,
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
