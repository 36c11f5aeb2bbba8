#!/usr/bin/env node
import { loadLocalSettings } from './localSettings.js';
import { TABLES } from '../shared/container.js';
import { getJobStatus } from '../functions/getNotification/jobStatus.js';
import { tableClient } from '../shared/azureStorage/connection.js';
import { LazyTable } from '../shared/azureStorage/table.js';
import { TableDeliveryRecordStore } from '../shared/azureStorage/tableDeliveryRecordStore.js';
import { TableJobStore, TableRejectedJobStore } from '../shared/azureStorage/tableJobStore.js';
import { readStorageSettings } from '../shared/config.js';
import { TableJobContentStore } from '../shared/azureStorage/tableJobContentStore.js';

/**
 * `npm run status -- <jobId> [--json]`: per-recipient outcomes and totals of a job, or why it was
 * rejected. Exits 1 when the job was rejected or any delivery failed, so scripts can check it.
 */
async function main(args: string[]): Promise<number> {
  loadLocalSettings();
  const json = args.includes('--json');
  const id = args.find((a) => !a.startsWith('--'));
  if (!id) {
    process.stderr.write('usage: npm run status -- <jobId> [--json]\n');
    return 2;
  }
  const storage = readStorageSettings();
  const status = await getJobStatus(id, {
    jobs: new TableJobStore(new LazyTable(tableClient(storage, TABLES.jobs))),
    deliveryRecords: new TableDeliveryRecordStore(new LazyTable(tableClient(storage, TABLES.conversations))),
    rejected: new TableRejectedJobStore(new LazyTable(tableClient(storage, TABLES.rejected))),
    contents: new TableJobContentStore(new LazyTable(tableClient(storage, TABLES.jobs))),
  });
  if (!status) {
    process.stderr.write(`status: no job ${id}\n`);
    return 1;
  }
  const failing = status.rejected === true || status.totals.failed > 0;
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
    `job ${status.jobId} (tenant ${status.tenantId}, accepted ${status.acceptedAt})\n` +
      `${t.recipients} recipients: ${t.sent} sent, ${t.failed} failed, ${t.skipped} skipped, ${t.pending} pending\n` +
      `after the send: ${t.read} read, ${t.acknowledged} acknowledged, ${t.updated} updated, ${t.recalled} recalled, ${t.cancelled} cancelled, ${t.changeFailed} changes failed` +
      `${status.revision ? ` (revision ${status.revision})` : ''}${status.recalledAt ? ` (recalled ${status.recalledAt})` : ''}\n`,
  );
  for (const r of status.recipients) {
    const extra =
      r.status === 'sent'
        ? [
            `activity ${r.activityId ?? '?'}`,
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
