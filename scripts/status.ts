#!/usr/bin/env node
import { loadLocalSettings } from './localSettings.js';
import { getJobStatus, type JobStatus } from '../functions/getNotification/jobStatus.js';
import { plural } from '../shared/text.js';
import { statusStores } from './jobStores.js';
import { STATUS_FILTERS } from '../functions/getNotification/audienceStatus.js';
import type { DeliveryStatus } from '../shared/stores/deliveryRecords.js';

const USAGE = `usage: npm run status -- <jobId> [--tenant <tenantId>] [--json] [--status ${STATUS_FILTERS.join('|')}] [--limit N]\n(--tenant defaults to DEFAULT_TENANT_ID)\n`;

/**
 * `npm run status -- <jobId> [--tenant T] [--json] [--status failed] [--limit N]`: totals of a job and its
 * per-recipient outcomes (of one kind with --status; an audience job lists them only then, page by
 * page up to --limit), or why it was rejected. Exits 1 when the job was rejected, any delivery
 * failed or the update or recall of any copy failed, so scripts can check it.
 */
async function main(args: string[]): Promise<number> {
  loadLocalSettings();
  const json = args.includes('--json');
  const option = (name: string) => {
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const kind = option('--status') as DeliveryStatus | undefined;
  const limit = Number(option('--limit') ?? 1000);
  const id = args.find(
    (a, i) => !a.startsWith('--') && !['--status', '--limit', '--tenant'].includes(args[i - 1] ?? ''),
  );
  // Jobs are scoped by tenant: the same ID in another tenant is another job.
  const tenantId = (option('--tenant') ?? process.env.DEFAULT_TENANT_ID ?? '').toLowerCase();
  if (!id || !tenantId || (kind && !STATUS_FILTERS.includes(kind)) || !Number.isInteger(limit) || limit < 1) {
    process.stderr.write(USAGE);
    return 2;
  }
  const stores = statusStores();
  const ref = { tenantId, jobId: id };
  const status = await getJobStatus(ref, stores, { status: kind, size: Math.min(limit, 1000) });
  // An audience job's outcomes come a page at a time: follow the pages up to --limit.
  let token = status?.continuationToken;
  while (status && kind && token && status.recipients.length < limit) {
    const next = await getJobStatus(ref, stores, { status: kind, continuationToken: token, size: 1000 });
    status.recipients.push(...(next?.recipients ?? []).slice(0, limit - status.recipients.length));
    token = next?.continuationToken;
  }
  if (status?.expansion && !kind) status.recipients = [];
  if (!status) {
    process.stderr.write(`status: no job ${id} in tenant ${tenantId}\n`);
    return 1;
  }
  // A failed delivery, or a copy whose update or recall failed: the job did not do what was asked.
  const failing =
    status.rejected === true || status.totals.failed > 0 || (status.totals.changeFailed ?? 0) > 0;
  if (json) {
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    return failing ? 1 : 0;
  }
  if (status.rejected) {
    process.stdout.write(
      `job ${status.jobId} rejected (${status.reason}) at ${status.rejectedAt ?? '?'} from ${status.source}; nothing was sent\n`,
    );
    for (const e of status.errors ?? []) process.stdout.write(`  ${e}\n`);
    return 1;
  }
  const t = status.totals;
  process.stdout.write(
    `job ${status.jobId} (tenant ${status.tenantId}, accepted ${status.acceptedAt}${status.priority ? `, ${status.priority} lane` : ''})\n` +
      `${plural(t.recipients, 'recipient')}: ${t.sent} sent, ${t.failed} failed, ${t.skipped} skipped, ${t.pending} pending\n` +
      // Audience jobs count outcomes only; follow-ups are shown per recipient (--status).
      (t.read === undefined
        ? ''
        : `after the send: ${t.read} read, ${t.acknowledged} acknowledged, ${t.updated} updated, ${t.recalled} recalled, ${t.cancelled} cancelled, ${plural(t.changeFailed, 'change')} failed`) +
      `${status.revision ? ` (revision ${status.revision})` : ''}${recallNote(status)}\n`,
  );
  if (status.expansion) {
    const e = status.expansion;
    process.stdout.write(`audience ${e.state}: ${e.progress}${e.reason ? ` (${e.reason})` : ''}\n`);
    for (const error of e.errors ?? []) process.stdout.write(`  ${error}\n`);
    if (!kind) process.stdout.write(`list one outcome kind with --status ${STATUS_FILTERS.join('|')}\n`);
  }
  for (const r of status.recipients) {
    const extra =
      r.status === 'sent'
        ? [
            `activity ${r.activityId ?? '?'}`,
            r.waitMs !== undefined ? `waited ${(r.waitMs / 1000).toFixed(1)} s` : '',
            r.revisedAt ? `updated to revision ${r.revision}` : '',
            r.readAt ? `read ${r.readAt}` : '',
            r.acknowledgedAt ? `acknowledged ${r.acknowledgedAt}` : '',
          ]
            .filter(Boolean)
            .join(', ')
        : [r.reason, r.detail].filter(Boolean).join(': ');
    const failure = r.changeFailure ? `  ${r.changeFailure.op} failed: ${r.changeFailure.reason}` : '';
    process.stdout.write(`  ${r.status.padEnd(9)} ${r.recipient}${extra ? `  ${extra}` : ''}${failure}\n`);
  }
  for (const c of status.callbacks ?? []) {
    const how =
      c.state === 'delivered'
        ? `delivered after ${plural(c.attempts, 'attempt')}`
        : `${c.state} (${plural(c.attempts, 'attempt')}${c.lastStatus ? `, last answer ${c.lastStatus}` : ''}${c.lastError ? `, ${c.lastError}` : ''})`;
    process.stdout.write(`callback ${c.event}: ${how}\n`);
  }
  if (status.lastRejection) {
    const r = status.lastRejection;
    process.stdout.write(`a later submission with this ID was rejected (${r.reason}) at ${r.rejectedAt}\n`);
  }
  return failing ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`status: ${(err as Error).message}\n`);
  return 1;
});

function recallNote(status: JobStatus): string {
  if (status.recalledAt) return ` (recalled ${status.recalledAt})`;
  return status.recallRequestedAt ? ` (recall asked for ${status.recallRequestedAt}, not in effect yet)` : '';
}
