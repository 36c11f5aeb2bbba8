import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { services } from '../../shared/container.js';
import { jobRefParam } from '../../shared/triggers/jobRefParam.js';
import { admitRequest, notOwner } from '../../shared/triggers/producerRequest.js';
import type { DeliveryStatus } from '../../shared/stores/deliveryRecords.js';
import { STATUS_FILTERS } from './audienceStatus.js';
import { getJobStatus } from './jobStatus.js';

export async function handleGetNotification(request: HttpRequest): Promise<HttpResponseInit> {
  const { jobs, deliveryRecords, rejected, counters, contents, callbackStore, config } = services();
  const admitted = await admitRequest(request, 'read', config);
  if ('refused' in admitted) return admitted.refused;
  const ref = jobRefParam(request, config);
  if ('refused' in ref) return ref.refused;
  const filter = request.query.get('status') ?? undefined;
  if (filter && !STATUS_FILTERS.includes(filter as DeliveryStatus)) {
    return {
      status: 400,
      jsonBody: { error: 'InvalidStatus', errors: [`status must be one of ${STATUS_FILTERS.join(', ')}`] },
    };
  }
  const size = request.query.get('pageSize');
  const status = await getJobStatus(
    ref,
    { jobs, deliveryRecords, rejected, counters, contents, callbacks: callbackStore },
    {
      status: filter as DeliveryStatus | undefined,
      continuationToken: request.query.get('continuationToken') ?? undefined,
      size: size && /^\d{1,4}$/.test(size) ? Number(size) : undefined,
    },
  );
  if (!status) {
    const errors = [`no job ${ref.jobId} in tenant ${ref.tenantId}`];
    return { status: 404, jsonBody: { error: 'NotFound', errors } };
  }
  return notOwner(admitted.caller, ref.jobId, status.producer) ?? { status: 200, jsonBody: status };
}
