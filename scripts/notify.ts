#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { loadLocalSettings } from './localSettings.js';
import { loadConfig } from '../shared/config.js';
import { decodeJobText } from '../shared/jobs/decode.js';
import { guessRecipient } from '../shared/jobs/recipient.js';
import { enqueueNotification, JobValidationError } from '../shared/jobs/producer.js';
import type { NotificationJobInput } from '../shared/jobs/contract.js';

/** `npm run notify -- --to meganb@example.com --text "Build is green"`: enqueue a job, print its ID. */

export function parseNotifyArgs(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): NotificationJobInput | string {
  const program = new Command('notify')
    .description('Enqueue a Teams Notifier job')
    .option('--job <file>', 'a whole job as JSON (plain or base64, BOM allowed); other options are ignored')
    .option('--to <recipient>', 'UPN/email, AAD object ID or Teams user ID (repeat for more)', collect, [])
    .option(
      '--group <groupId>',
      'every user of a Microsoft Entra group, by object ID (repeat for more)',
      collect,
      [],
    )
    .option('--text <text>', 'message text (Teams markdown)')
    .option('--card <file>', 'Adaptive Card JSON file')
    .option('--summary <text>', 'notification summary')
    .option('--tenant <tenantId>', 'tenant ID (default: DEFAULT_TENANT_ID)')
    .option('--id <jobId>', 'job ID (idempotency key); generated when absent')
    .option('--not-before <time>', 'ISO 8601 time before which nothing is sent')
    .option('--expires-at <time>', 'ISO 8601 time after which nothing is sent')
    .option('--priority <lane>', 'urgent, normal or bulk (default: by size, docs/delivery.md#lanes)')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: (s) => process.stdout.write(s) });
  program.parse(argv, { from: 'user' });
  const o = program.opts<{
    job?: string;
    to: string[];
    group: string[];
    text?: string;
    card?: string;
    summary?: string;
    tenant?: string;
    id?: string;
    notBefore?: string;
    expiresAt?: string;
    priority?: string;
  }>();
  if (o.job) {
    try {
      // Read as the queue reads it (decode.ts), so a file that works here works everywhere.
      return readFileSync(o.job, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --job ${o.job}: ${(err as Error).message}`);
    }
  }
  if (o.to.length === 0 && o.group.length === 0)
    throw new UsageError('no recipient: pass --to or --group (or --job <file>)');
  const tenantId = o.tenant ?? loadConfig(env).defaultTenantId;
  if (!tenantId) throw new UsageError('no tenant: pass --tenant or set DEFAULT_TENANT_ID');
  if (!o.text && !o.card) throw new UsageError('nothing to send: pass --text and/or --card');
  let card: Record<string, unknown> | undefined;
  if (o.card) {
    try {
      const decoded = decodeJobText(readFileSync(o.card, 'utf8'));
      if (!decoded.ok) throw new Error(decoded.errors.join('; '));
      card = decoded.value as Record<string, unknown>;
    } catch (err) {
      throw new UsageError(`cannot read --card ${o.card}: ${(err as Error).message}`);
    }
  }
  const job: NotificationJobInput = {
    tenantId,
    recipients: [...o.to.map(guessRecipient), ...o.group.map((groupId) => ({ groupId }))],
    message: {
      ...(o.text ? { text: o.text } : {}),
      ...(card ? { card } : {}),
      ...(o.summary ? { summary: o.summary } : {}),
    },
  };
  if (o.id) job.id = o.id;
  if (o.notBefore) job.notBefore = o.notBefore;
  if (o.expiresAt) job.expiresAt = o.expiresAt;
  // Checked with the rest of the job by the client (an unknown one is refused, exit 2).
  if (o.priority) job.priority = o.priority as NonNullable<NotificationJobInput['priority']>;
  return job;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function main(): Promise<number> {
  loadLocalSettings();
  try {
    const job = parseNotifyArgs(process.argv.slice(2));
    const { jobId } = await enqueueNotification(job);
    process.stdout.write(`${jobId}\n`);
    return 0;
  } catch (err) {
    if (err instanceof UsageError || err instanceof JobValidationError) {
      process.stderr.write(`notify: ${err.message}\n`);
      return 2;
    }
    const e = err as { code?: string; message?: string; exitCode?: number };
    if (e.code?.startsWith('commander.')) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      process.stderr.write(`notify: ${e.message}\nRun with --help for usage.\n`);
      return 2;
    }
    process.stderr.write(`notify: could not enqueue: ${e.message ?? String(err)}\n`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  process.exitCode = await main();
}
