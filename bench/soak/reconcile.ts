/** Reconciling Teams' side of the soak with the delivery records, and which duplicates a crash explains. */
import type { AcceptedActivity } from '../../test/support/fakeConnector.js';
import type { Expected } from './plan.js';
import type { DeliveryRow } from './storage.js';
import { MARKER, type DeliveryIssue } from './types.js';

const TERMINAL = new Set(['sent', 'failed', 'skipped']);

/**
 * The documented duplicate window: Teams accepted the message, then the host (or its worker, restarted
 * as at a function timeout) died before it wrote `sent`, and the retry sent it again. So every extra copy must be separated from
 * the next by a kill, and the record's last claim must come after the last of those kills.
 */
export function explainedByCrash(
  accepted: number[],
  record: DeliveryRow | undefined,
  kills: number[],
): boolean {
  if (accepted.length < 2 || !record?.claimedAt) return false;
  const claimedAt = Date.parse(record.claimedAt);
  let lastKill = -Infinity;
  for (let i = 0; i + 1 < accepted.length; i++) {
    const kill = kills.find((k) => accepted[i]! <= k && k < accepted[i + 1]!);
    if (kill === undefined) return false;
    lastKill = Math.max(lastKill, kill);
  }
  // Each copy was sent under its own claim: the one the kill interrupted, then the takeover.
  return claimedAt > lastKill && Number(record.attempts ?? 0) >= accepted.length;
}

/**
 * The same window when the retry did not send: Teams accepted the only copy, then the host died before
 * it wrote `sent`, and after the restart the retry found the recipient no longer eligible (another job's
 * 403 made them inactive) and recorded that. So a kill came after the copy, and the record's final
 * outcome was written after that kill.
 */
export function mismatchExplainedByCrash(
  accepted: number[],
  record: DeliveryRow | undefined,
  kills: number[],
): boolean {
  if (accepted.length !== 1 || !record?.completedAt || record.status === 'sent') return false;
  const completedAt = Date.parse(record.completedAt);
  return kills.some((k) => accepted[0]! <= k && completedAt > k);
}

type Tally = { total: number; byReason: Record<string, number> };
type Issues = { total: number; explained: number; unexplained: DeliveryIssue[] };

export interface Reconciled {
  exactlyOnce: number;
  duplicates: Issues;
  mismatched: Issues;
  lost: DeliveryIssue[];
  failed: Tally;
  skipped: Tally;
  problems: string[];
}

/**
 * Teams' side (the connector's accepted messages, matched to jobs by the marker in their text) against
 * the delivery records: each expected delivery is exactly once, a duplicate, a record that disagrees,
 * failed or skipped (no message, a final record), or lost. `kills`: when hosts or workers died.
 */
export function reconcile(
  expected: Expected[],
  acceptedMessages: AcceptedActivity[],
  records: Map<string, DeliveryRow>,
  kills: number[],
): Reconciled {
  const problems: string[] = [];
  const accepted = new Map<string, { at: number; activityId: string }[]>();
  let foreign = 0;
  for (const a of acceptedMessages) {
    const text = typeof a.body.text === 'string' ? a.body.text : '';
    const at = text.indexOf(MARKER);
    if (at < 0) {
      foreign++;
      continue;
    }
    const jobId = text.slice(at + MARKER.length).replace(/\)$/, '');
    const key = `${a.conversationId}\n${jobId}`;
    accepted.set(key, [...(accepted.get(key) ?? []), { at: a.at, activityId: a.activityId }]);
  }
  if (foreign > 0) problems.push(`${foreign} accepted messages carry no soak marker`);

  const out: Reconciled = {
    exactlyOnce: 0,
    duplicates: { total: 0, explained: 0, unexplained: [] },
    mismatched: { total: 0, explained: 0, unexplained: [] },
    lost: [],
    failed: { total: 0, byReason: {} },
    skipped: { total: 0, byReason: {} },
    problems,
  };
  let matchedAccepted = 0;
  for (const e of expected) {
    const copies = accepted.get(`${e.user.conversationId}\n${e.jobId}`) ?? [];
    matchedAccepted += copies.length;
    const times = copies.map((c) => c.at).sort((a, b) => a - b);
    const record = records.get(`${e.jobId}\n${e.recipient}`);
    const issue = (why: string): DeliveryIssue => ({
      jobId: e.jobId,
      recipient: e.recipient,
      accepted: times,
      record: record && {
        status: record.status,
        reason: record.reason,
        claimedAt: record.claimedAt,
        attempts: Number(record.attempts ?? 0),
      },
      why,
    });
    if (copies.length === 0) {
      if (record?.status === 'failed' || record?.status === 'skipped') {
        const tally = record.status === 'failed' ? out.failed : out.skipped;
        tally.total++;
        const reason = record.reason ?? '(none)';
        tally.byReason[reason] = (tally.byReason[reason] ?? 0) + 1;
      }
      if (!record || !TERMINAL.has(record.status))
        out.lost.push(issue(`no message in Teams and the record is ${record?.status ?? 'missing'}`));
      else if (record.status === 'sent') out.lost.push(issue('recorded sent, but Teams has no message'));
      continue;
    }
    if (copies.length > 1) {
      out.duplicates.total++;
      if (explainedByCrash(times, record, kills)) out.duplicates.explained++;
      else out.duplicates.unexplained.push(issue(`${copies.length} messages in Teams`));
      continue;
    }
    if (record?.status === 'sent' && record.activityId === copies[0]!.activityId) {
      out.exactlyOnce++;
      continue;
    }
    out.mismatched.total++;
    if (mismatchExplainedByCrash(times, record, kills)) out.mismatched.explained++;
    else
      out.mismatched.unexplained.push(
        issue(`one message in Teams, record ${record?.status ?? 'missing'} ${record?.activityId ?? ''}`),
      );
  }
  if (matchedAccepted !== acceptedMessages.length - foreign)
    problems.push(
      `${acceptedMessages.length - foreign - matchedAccepted} accepted messages match no expected delivery`,
    );
  if (out.lost.length > 0) problems.push(`${out.lost.length} deliveries lost`);
  if (out.duplicates.unexplained.length > 0)
    problems.push(`${out.duplicates.unexplained.length} duplicates not explained by the crash window`);
  if (out.mismatched.unexplained.length > 0)
    problems.push(`${out.mismatched.unexplained.length} deliveries whose record disagrees with Teams`);
  return out;
}
