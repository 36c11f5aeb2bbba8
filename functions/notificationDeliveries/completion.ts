import type { InvocationContext } from '@azure/functions';
import { checkCompletion } from '../../shared/callbacks/completion.js';
import { services } from '../../shared/container.js';
import type { JobRef } from '../../shared/stores/jobs.js';

/** Set on the deliveries of a job that asked for a callback (shared/jobs/intake.ts). */
export interface CallbackFlag {
  callback?: true | undefined;
}

/** After an outcome: queue the job's JobCompleted event when it completed (shared/callbacks/completion.ts). */
export async function completionCheck(ref: JobRef, context: InvocationContext): Promise<void> {
  const { jobs, deliveryRecords, counters, callbacks, config } = services();
  const queued = await checkCompletion(
    { tenantId: ref.tenantId, jobId: ref.jobId },
    { jobs, deliveryRecords, counters, callbacks, publicOrigin: config.callbacks.publicOrigin },
  );
  if (queued) context.log(`job ${ref.jobId}: complete; its JobCompleted callback is queued`);
}
