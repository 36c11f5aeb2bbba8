import type { JobStatus } from '../functions/getNotification/jobStatus.js';
import { plural } from '../shared/text.js';

/**
 * How far an update or a recall got, from the job's status: per copy, changed, failed or still
 * going. `npm run update` / `recall` wait on it, and exit non-zero when a change failed.
 */
export interface ChangeProgress {
  done: boolean;
  changed: number;
  failed: Array<{ recipient: string; reason: string; detail?: string | undefined }>;
  waiting: number;
  summary: string;
}

export function changeProgress(op: 'update' | 'recall', status: JobStatus, revision: number): ChangeProgress {
  let changed = 0;
  let waiting = 0;
  const failed: ChangeProgress['failed'] = [];
  for (const r of status.recipients) {
    const failure = r.changeFailure?.op === op && (op === 'recall' || r.changeFailure.revision === revision);
    if (failure)
      failed.push({
        recipient: r.recipient,
        reason: r.changeFailure!.reason,
        detail: r.changeFailure!.detail,
      });
    else if (op === 'recall' && (r.status === 'recalled' || r.status === 'cancelled')) changed++;
    else if (op === 'update' && r.status === 'sent' && (r.revision ?? 0) >= revision) changed++;
    else if (r.status === 'sent' || r.status === 'pending') waiting++;
  }
  // The fan-out queues one change task per copy; until it is done more copies may come.
  const fannedOut = status.changes?.op === op && status.changes.done;
  const done = !!fannedOut && waiting === 0;
  const what = op === 'recall' ? 'recalled or cancelled' : `updated to revision ${revision}`;
  const summary =
    `${plural(changed, 'copy', 'copies')} ${what}` +
    (failed.length ? `, ${plural(failed.length, 'copy', 'copies')} failed` : '') +
    (waiting ? `, ${plural(waiting, 'copy', 'copies')} still to do` : '');
  return { done, changed, failed, waiting, summary };
}
