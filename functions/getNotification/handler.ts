import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { services } from '../../shared/container.js';
import { getJobStatus } from './jobStatus.js';

export async function handleGetNotification(request: HttpRequest): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/.test(id)) {
    return {
      status: 400,
      jsonBody: { error: 'InvalidJobId', errors: ['job IDs use letters, digits and . _ : -'] },
    };
  }
  const { jobs, deliveryRecords, rejected, contents } = services();
  const status = await getJobStatus(id, { jobs, deliveryRecords, rejected, contents });
  if (!status) return { status: 404, jsonBody: { error: 'NotFound', errors: [`no job ${id}`] } };
  return { status: 200, jsonBody: status };
}
