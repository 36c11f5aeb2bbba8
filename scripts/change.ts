#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { loadLocalSettings } from './localSettings.js';
import { buildServices } from '../shared/container.js';
import { recallJob, updateJob, type ChangeRequestResult } from '../shared/followUps/requestChange.js';
import { decodeJobText } from '../shared/jobs/decode.js';
import type { NotificationMessage } from '../shared/jobs/contract.js';
import type { JobRef } from '../shared/stores/jobs.js';

/**
 * `npm run update -- <jobId> [--tenant T] --text "..." [--card file] [--summary "..."]` and
 * `npm run recall -- <jobId> [--tenant T]`: the same as PATCH and DELETE /api/notifications/{id},
 * straight against the app's storage. The tenant defaults to DEFAULT_TENANT_ID.
 */

const tenantOf = (option: string | undefined) =>
  (option ?? process.env.DEFAULT_TENANT_ID ?? '').toLowerCase();

export function parseUpdateArgs(argv: string[]): JobRef & { message: NotificationMessage } {
  const program = new Command('update')
    .argument('<jobId>')
    .option('--tenant <tenantId>', "the job's tenant (default: DEFAULT_TENANT_ID)")
    .option('--text <text>', 'new message text (Teams markdown)')
    .option('--card <file>', 'new Adaptive Card JSON file')
    .option('--summary <text>', 'notification summary')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined });
  program.parse(argv, { from: 'user' });
  const o = program.opts<{ tenant?: string; text?: string; card?: string; summary?: string }>();
  if (!o.text && !o.card) throw new Error('nothing to change: pass --text and/or --card');
  const tenantId = tenantOf(o.tenant);
  if (!tenantId) throw new Error("name the job's tenant: --tenant, or set DEFAULT_TENANT_ID");
  const message: NotificationMessage = {};
  if (o.text) message.text = o.text;
  if (o.card) {
    const decoded = decodeJobText(readFileSync(o.card, 'utf8'));
    if (!decoded.ok) throw new Error(`cannot read --card ${o.card}: ${decoded.errors.join('; ')}`);
    message.card = decoded.value as Record<string, unknown>;
  }
  if (o.summary) message.summary = o.summary;
  return { tenantId, jobId: program.args[0]!, message };
}

function print(op: string, result: ChangeRequestResult): number {
  if (!result.ok) {
    process.stderr.write(`${op}: ${result.error}: ${result.errors.join('; ')}\n`);
    return result.status === 404 ? 1 : 2;
  }
  process.stdout.write(
    `job ${result.jobId}: ${op} recorded (revision ${result.revision})${result.recallRequestedAt ? `, asked for at ${result.recallRequestedAt}: no send starts after it` : ''}; the change of each copy is queued; see npm run status -- ${result.jobId} --tenant ${result.tenantId}\n`,
  );
  return 0;
}

async function main(op: string, args: string[]): Promise<number> {
  loadLocalSettings();
  if (op === 'recall') {
    const at = args.indexOf('--tenant');
    const jobId = args.find((a, i) => !a.startsWith('--') && (at < 0 || i !== at + 1));
    const tenantId = tenantOf(at >= 0 ? args[at + 1] : undefined);
    if (!jobId || !tenantId) {
      process.stderr.write(
        'usage: npm run recall -- <jobId> [--tenant <tenantId>] (default DEFAULT_TENANT_ID)\n',
      );
      return 2;
    }
    return print(op, await recallJob({ tenantId, jobId }, buildServices()));
  }
  let parsed;
  try {
    parsed = parseUpdateArgs(args);
  } catch (err) {
    process.stderr.write(
      `update: ${(err as Error).message}\nusage: npm run update -- <jobId> --text "..." [--card file]\n`,
    );
    return 2;
  }
  return print(op, await updateJob(parsed, parsed.message, buildServices()));
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const [op = '', ...rest] = process.argv.slice(2);
  process.exitCode = await main(op, rest).catch((err: unknown) => {
    process.stderr.write(`${op}: ${(err as Error).message}\n`);
    return 1;
  });
}
