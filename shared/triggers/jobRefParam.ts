import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { isTenantAllowed, type AppConfig } from '../config.js';
import { JOB_ID, TENANT_ID } from '../jobs/recipient.js';
import type { JobRef } from '../stores/jobs.js';

const refuse = (status: number, error: string, message: string) => ({
  refused: { status, jsonBody: { error, errors: [message] } } satisfies HttpResponseInit,
});

/**
 * The job that GET, PATCH and DELETE /api/notifications/{id}?tenantId=… name: the `{id}` and the
 * `tenantId` query parameter, or DEFAULT_TENANT_ID when the deployment serves one tenant. Both are
 * checked before any read (they are table keys), and the tenant against ALLOWED_TENANT_IDS.
 */
export function jobRefParam(
  request: HttpRequest,
  config: Pick<AppConfig, 'defaultTenantId' | 'allowedTenantIds'>,
): JobRef | { refused: HttpResponseInit } {
  const jobId = request.params.id ?? '';
  if (!JOB_ID.test(jobId)) return refuse(400, 'InvalidJobId', 'job IDs use letters, digits and . _ : -');
  const tenantId = (request.query.get('tenantId') ?? config.defaultTenantId ?? '').toLowerCase();
  if (!tenantId) {
    return refuse(400, 'TenantRequired', "name the job's tenant: ?tenantId=<Microsoft Entra tenant ID>");
  }
  if (!TENANT_ID.test(tenantId)) {
    return refuse(400, 'InvalidTenantId', 'tenantId uses letters, digits, . and -, at most 64');
  }
  if (!isTenantAllowed(config as AppConfig, tenantId)) {
    return refuse(403, 'TenantNotAllowed', `tenant ${tenantId} is not in ALLOWED_TENANT_IDS`);
  }
  return { tenantId, jobId };
}

/** The status URL of a job: it names the tenant, so it reaches this job and no other tenant's. */
export function statusUrlOf(request: HttpRequest, ref: JobRef): string {
  const query = new URLSearchParams({ tenantId: ref.tenantId });
  return `${new URL(request.url).origin}/api/notifications/${encodeURIComponent(ref.jobId)}?${query}`;
}
