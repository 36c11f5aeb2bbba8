import { readStorageSettings } from '../../shared/config.js';
import { configurationProblems } from './configuration.js';
import { storageProbes } from './storageProbes.js';

/** One thing /api/health looks at: its problems (empty when fine); a throw is one problem. */
export interface Check {
  name: string;
  run(signal: AbortSignal): Promise<readonly string[]>;
}

export interface HealthReport {
  status: 'healthy' | 'unhealthy';
  checkedAt: string;
  /** Each check's name → "ok" or what is wrong with it. */
  checks: Record<string, string>;
  /** Everything wrong, each naming its setting, queue or table. */
  problems: string[];
}

/** Each check's limit: the answer comes within it even when storage hangs. */
export const CHECK_TIMEOUT_MS = 5_000;
/** Storage is asked at most once per this, whatever calls the anonymous endpoint. */
export const CACHE_MS = 5_000;

/**
 * A failure as a code, never a message: storage's error code (QueueNotFound, TableNotFound,
 * AuthorizationPermissionMismatch), a network code (ECONNREFUSED) or the HTTP status. Messages may
 * carry URLs, request IDs or account names.
 */
export function failureCode(err: unknown): string {
  const e = (err ?? {}) as {
    code?: unknown;
    statusCode?: unknown;
    name?: unknown;
    details?: { errorCode?: unknown };
  };
  const safe = (v: unknown) => (typeof v === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(v) ? v : undefined);
  return (
    safe(e.code) ??
    // @azure/data-tables leaves `code` unset and passes the x-ms-error-code header on here.
    safe(e.details?.errorCode) ??
    (typeof e.statusCode === 'number' ? `HTTP ${e.statusCode}` : undefined) ??
    safe(e.name) ??
    'Error'
  );
}

async function runOne(check: Check, timeoutMs: number): Promise<readonly string[]> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<readonly string[]>((resolve) => {
    timer = setTimeout(() => {
      abort.abort();
      resolve([`${check.name}: no answer within ${timeoutMs} ms`]);
    }, timeoutMs);
  });
  const ran = check.run(abort.signal).then(
    (problems) => problems,
    (err: unknown) => [
      `${check.name}: ${abort.signal.aborted ? `no answer within ${timeoutMs} ms` : failureCode(err)}`,
    ],
  );
  try {
    return await Promise.race([ran, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the checks side by side, each within `timeoutMs`. */
export async function runChecks(
  checks: readonly Check[],
  timeoutMs = CHECK_TIMEOUT_MS,
  now = () => new Date(),
): Promise<HealthReport> {
  const results = await Promise.all(checks.map((c) => runOne(c, timeoutMs)));
  const report: HealthReport = {
    status: 'healthy',
    checkedAt: now().toISOString(),
    checks: {},
    problems: [],
  };
  checks.forEach((check, i) => {
    const problems = results[i]!;
    report.checks[check.name] = problems.length ? problems.join('; ') : 'ok';
    report.problems.push(...problems);
  });
  if (report.problems.length) report.status = 'unhealthy';
  return report;
}

/** The app's checks: its configuration, then every queue and table it uses (storageProbes.ts). */
export function appChecks(env: Record<string, string | undefined> = process.env): Check[] {
  const configuration: Check = {
    name: 'configuration',
    run: async () => configurationProblems(env),
  };
  const storage = readStorageSettings(env);
  const usable = storage.connectionString || (storage.queueServiceUri && storage.tableServiceUri);
  // Without storage settings there is nothing to ask; the configuration check names what is missing.
  return usable ? [configuration, ...storageProbes(storage)] : [configuration];
}

let checks: Check[] | undefined;
let last: { report: HealthReport; at: number } | undefined;
let running: Promise<HealthReport> | undefined;

/**
 * The last report if younger than CACHE_MS, else a new one; callers that arrive while the checks
 * run share that run. `fresh` says whether this call ran them.
 */
export async function cachedHealthReport(): Promise<{ report: HealthReport; fresh: boolean }> {
  if (last && Date.now() - last.at < CACHE_MS) return { report: last.report, fresh: false };
  if (running) return { report: await running, fresh: false };
  // The clients are built once: identity-based ones then reuse their token.
  checks ??= appChecks();
  running = runChecks(checks).finally(() => {
    running = undefined;
  });
  const report = await running;
  last = { report, at: Date.now() };
  return { report, fresh: true };
}
