#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { loadLocalSettings } from './localSettings.js';
import { buildServices } from '../shared/container.js';
import { recallJob, updateJob, type ChangeRequestResult } from '../shared/followUps/requestChange.js';
import { decodeJobText } from '../shared/jobs/decode.js';
import type { NotificationMessage } from '../shared/jobs/contract.js';
import type { JobRef } from '../shared/stores/jobs.js';
import { getJobStatus } from '../functions/getNotification/jobStatus.js';
import { plural } from '../shared/text.js';
import { changeProgress } from './changeProgress.js';
import { statusStores } from './jobStores.js';

/**
 * `npm run update -- <jobId> [--tenant T] --text "..." [--card file] [--summary "..."]` and
 * `npm run recall -- <jobId> [--tenant T]`: the same as PATCH and DELETE /api/notifications/{id},
 * straight against the app's storage. The tenant defaults to DEFAULT_TENANT_ID. Then each waits (at
 * most `--wait` seconds, 60 by default; `--no-wait` not at all) until every copy is changed, and
 * exits 1 when the change of any copy failed, 3 when it had not finished in time.
 */

/** `--no-wait` or `--wait <seconds>`, taken out of the arguments. */
export function waitOption(args: string[]): { seconds: number; rest: string[] } {
  const at = args.indexOf('--wait');
  const seconds = args.includes('--no-wait') ? 0 : at >= 0 ? Number(args[at + 1]) : 60;
  if (!Number.isFinite(seconds) || seconds < 0) throw new Error('--wait takes a number of seconds');
  const rest = args.filter((a, i) => a !== '--no-wait' && i !== at && (at < 0 || i !== at + 1));
  return { seconds, rest };
}

/** Waits for the change to reach every copy; the exit code says how it ended. */
async function awaitChange(
  op: 'update' | 'recall',
  ref: JobRef,
  revision: number,
  seconds: number,
): Promise<number> {
  if (!seconds) return 0;
  const stores = statusStores();
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const status = await getJobStatus(ref, stores, { size: 1000 });
    if (!status) return 1;
    const progress = changeProgress(op, status, revision);
    if (progress.done || Date.now() > deadline) {
      process.stdout.write(`job ${ref.jobId}: ${progress.summary}\n`);
      for (const f of progress.failed)
        process.stdout.write(
          `  ${op} failed  ${f.recipient}  ${f.reason}${f.detail ? `: ${f.detail}` : ''}\n`,
        );
      if (progress.failed.length) return 1;
      if (progress.done) return 0;
      process.stdout.write(
        `not finished after ${plural(seconds, 'second')}: npm run status -- ${ref.jobId} shows the rest\n`,
      );
      return 3;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

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

async function print(op: 'update' | 'recall', result: ChangeRequestResult, wait: number): Promise<number> {
  if (!result.ok) {
    process.stderr.write(`${op}: ${result.error}: ${result.errors.join('; ')}\n`);
    return result.status === 404 ? 1 : 2;
  }
  process.stdout.write(
    `job ${result.jobId}: ${op} recorded (revision ${result.revision})${result.recallRequestedAt ? `, asked for at ${result.recallRequestedAt}: no send starts after it` : ''}; the change of each copy is queued; see npm run status -- ${result.jobId} --tenant ${result.tenantId}\n`,
  );
  return awaitChange(op, result, result.revision, wait);
}

async function main(op: string, all: string[]): Promise<number> {
  loadLocalSettings();
  let wait: ReturnType<typeof waitOption>;
  try {
    wait = waitOption(all);
  } catch (err) {
    process.stderr.write(`${op}: ${(err as Error).message}\n`);
    return 2;
  }
  const args = wait.rest;
  if (op === 'recall') {
    const at = args.indexOf('--tenant');
    const jobId = args.find((a, i) => !a.startsWith('--') && (at < 0 || i !== at + 1));
    const tenantId = tenantOf(at >= 0 ? args[at + 1] : undefined);
    if (!jobId || !tenantId) {
      process.stderr.write(
        'usage: npm run recall -- <jobId> [--tenant <tenantId>] [--wait <seconds> | --no-wait] (default DEFAULT_TENANT_ID, 60 s)\n',
      );
      return 2;
    }
    return print(op, await recallJob({ tenantId, jobId }, buildServices()), wait.seconds);
  }
  let parsed;
  try {
    parsed = parseUpdateArgs(args);
  } catch (err) {
    process.stderr.write(
      `update: ${(err as Error).message}\nusage: npm run update -- <jobId> --text "..." [--card file] [--wait <seconds> | --no-wait]\n`,
    );
    return 2;
  }
  return print('update', await updateJob(parsed, parsed.message, buildServices()), wait.seconds);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const [op = '', ...rest] = process.argv.slice(2);
  process.exitCode = await main(op, rest).catch((err: unknown) => {
    process.stderr.write(`${op}: ${(err as Error).message}\n`);
    return 1;
  });
}
