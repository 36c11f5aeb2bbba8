import { HttpRequest } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { jobRefParam } from '../shared/triggers/jobRefParam.js';

/** Issue 22, item 7: which tenant GET, PATCH and DELETE /api/notifications/{id} name (a pure decision). */

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const OTHER = '0e9f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b';

describe('which tenant a request names', () => {
  const request = (query: string) =>
    new HttpRequest({
      url: `https://notifier.example/api/notifications/job-1${query}`,
      method: 'GET',
      params: { id: 'job-1' },
    });
  const config = (defaultTenantId?: string, allowed?: string[]) => ({
    defaultTenantId,
    allowedTenantIds: allowed ? new Set(allowed) : undefined,
  });

  it('takes ?tenantId=, else DEFAULT_TENANT_ID, lower-cased', () => {
    expect(jobRefParam(request(`?tenantId=${OTHER.toUpperCase()}`), config(TENANT))).toEqual({
      tenantId: OTHER,
      jobId: 'job-1',
    });
    expect(jobRefParam(request(''), config(TENANT))).toEqual({ tenantId: TENANT, jobId: 'job-1' });
  });

  it('refuses a request naming no tenant where there is no default, a malformed one, one outside the allowlist', () => {
    const refusal = (query: string, c = config()) => {
      const ref = jobRefParam(request(query), c);
      return 'refused' in ref ? [ref.refused.status, (ref.refused.jsonBody as { error: string }).error] : ref;
    };
    expect(refusal('')).toEqual([400, 'TenantRequired']);
    expect(refusal('?tenantId=a%2Fb')).toEqual([400, 'InvalidTenantId']);
    expect(refusal(`?tenantId=${OTHER}`, config(TENANT, [TENANT]))).toEqual([403, 'TenantNotAllowed']);
  });
});
