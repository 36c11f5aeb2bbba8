#!/usr/bin/env node
import { loadLocalSettings } from './localSettings.js';
import { TABLES } from '../shared/container.js';
import { tableClient } from '../shared/azureStorage/connection.js';
import { LazyTable } from '../shared/azureStorage/table.js';
import { TableRejectedJobStore } from '../shared/azureStorage/tableJobStore.js';
import { readStorageSettings } from '../shared/config.js';

/** `npm run rejections -- [--days N] [--json]`: recently rejected jobs with their reasons, newest first. */
async function main(args: string[]): Promise<number> {
  loadLocalSettings();
  const json = args.includes('--json');
  const daysAt = args.indexOf('--days');
  const days = daysAt >= 0 ? Number(args[daysAt + 1]) : 2;
  if (!Number.isInteger(days) || days < 1 || days > 90) {
    process.stderr.write('usage: npm run rejections -- [--days N (1-90, default 2)] [--json]\n');
    return 2;
  }
  const store = new TableRejectedJobStore(new LazyTable(tableClient(readStorageSettings(), TABLES.rejected)));
  const rows = await store.recent(days);
  if (json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    process.stdout.write(`no rejected jobs in the last ${days} day(s)\n`);
    return 0;
  }
  for (const r of rows) {
    process.stdout.write(
      `${r.rejectedAt}  ${r.reason.padEnd(18)} ${r.jobId ?? '(no id)'}${r.tenantId ? ` (tenant ${r.tenantId})` : ''}  from ${r.source}\n`,
    );
    for (const e of r.errors.slice(0, 5)) process.stdout.write(`    ${e}\n`);
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`rejections: ${(err as Error).message}\n`);
  return 1;
});
