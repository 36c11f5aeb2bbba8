/** The soak's figures as Markdown: the summary table and the soak section of bench/RESULTS.md. */
import { round } from './plan.js';
import type { SoakReport } from './types.js';

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
      'host SIGKILLs / worker restarts as at a function timeout / Azurite restarts',
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
(the app in the host's language worker, restarted ${o.workerRestarts} times as at a function timeout, which stops every
invocation on it) against an on-disk Azurite; the fake connector answered ${p(o.faults.p5xx)} of calls with a 5xx, ${p(o.faults.p429WithRetryAfter)} with 429 and
Retry-After, ${p(o.faults.p429NoRetryAfter)} with 429 without it, let ${p(o.faults.pTimeout)} time out (the app's \`CONNECTOR_TIMEOUT_MS\` ${o.connectorTimeoutMs}),
${p(o.faults.p403)} a documented 403 and ${p(o.faults.p404)} of chat calls 404 \`ConversationNotFound\`, and enforced
${r.timing.tenantLimitPerSecond}/s per tenant and ${r.timing.conversationLimitPerSecond}/s per chat${o.timeScale === 1 ? " (Teams' limits)" : ` (Teams' limits × ${o.timeScale})`}, the app's settings being the same.

${summaryTable(r)}

- **Exactly once** = Teams holds one message for that job and chat and the record says \`sent\` with its activity ID.
  **Lost** = Teams holds none and the record is missing, not final, or says \`sent\`. A **duplicate** is explained only
  if every extra copy was accepted before a killed host's exit (or a restarted worker) was seen (and what it had sent had arrived) and the next one after it, the record counts a claim per copy, and its last claim
  came after that kill (the crash window in docs/delivery.md); any other duplicate fails the soak.
- **Optimum** = the busiest tenant's fault-free connector calls (one send per delivery plus one
  createConversation per first-contact user) ÷ the tenant limit (tenants are limited independently), or the busiest
  chat's deliveries ÷ the chat limit if that is longer. Elapsed runs from the first job enqueued to the last record
  completed. The gap comes from the faults (Retry-After waits, timeouts, queue retries after the visibility
  timeout, the killed host's messages coming back after \`LOCAL_HOST_QUEUE_LEASE_MS\` (${o.queueLeaseMs} ms) and the restarted worker's after the
  visibility timeout, the Azurite
  outage), from the local host's concurrency (host.json's \`batchSize\` + \`newBatchThreshold\` deliveries at a time)
  against an on-disk Azurite, and from CPU contention on a shared machine.
- Permanently failed deliveries are the 403s (the user is then marked inactive, so later jobs to them fail
  with \`RecipientInactive\` without calling Teams) and whatever exhausted its retries.
${END}`;
}
