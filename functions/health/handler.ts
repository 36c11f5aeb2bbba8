import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { cachedHealthReport } from './checks.js';

export async function handleHealth(
  _request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const { report, fresh } = await cachedHealthReport();
  // One line per run of the checks, not per request: a probe every few seconds must not flood the log.
  if (fresh && report.status === 'unhealthy') context.warn(`health: ${report.problems.join('; ')}`);
  return {
    status: report.status === 'healthy' ? 200 : 503,
    jsonBody: report,
    headers: { 'cache-control': 'no-store' },
  };
}
