/**
 * One recipient's share of an update or a recall, carried on the deliveries queue beside delivery
 * tasks (`kind: 'change'` tells them apart), so it gets the same host retries, poison queue and
 * rescheduling as a send.
 */
export interface ChangeTask {
  v: 1;
  kind: 'change';
  op: 'update' | 'recall';
  jobId: string;
  tenantId: string;
  recipient: string;
  /** The content revision this update brings (recall: the revision when recalled). */
  revision: number;
  reschedules: number;
  traceparent?: string | undefined;
  /** An audience job's: a delivery cancelled before its record existed is counted too. */
  counted?: true | undefined;
}

export function isChangeTask(value: unknown): value is ChangeTask {
  const t = value as Partial<ChangeTask> | undefined;
  return (
    !!t &&
    typeof t === 'object' &&
    t.v === 1 &&
    t.kind === 'change' &&
    (t.op === 'update' || t.op === 'recall') &&
    typeof t.jobId === 'string' &&
    typeof t.tenantId === 'string' &&
    typeof t.recipient === 'string' &&
    typeof t.revision === 'number'
  );
}
