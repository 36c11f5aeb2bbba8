/**
 * The lanes benchmark (lanes.ts) on its own, writing its figures as JSON: how the "before" figures in
 * bench/RESULTS.md were made on an older commit (copy lanes.ts and this file into a checkout of it,
 * `npm ci` or link node_modules, `npm run build:bench`, then
 * `node dist/bench/lanesCli.js --out before.json`). Here, `BENCH_ONLY=lanes npm run bench` runs it
 * and writes RESULTS.md.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lanesBenchmark, type LanesOptions } from './lanes.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The scenario; BENCH_LANES_BULK changes the bulk job's size (e.g. for a quick try). */
export const lanesScenario = (root: string): LanesOptions => ({
  root,
  bulkRecipients: Number(process.env.BENCH_LANES_BULK ?? 6000),
  urgentJobs: 30,
  normalJobs: 30,
  normalSize: 3,
  instances: 3,
  seed: Number(process.env.BENCH_LANES_SEED ?? 24),
});

/** The checkout's commit, and whether the app differs from it (changes under bench/ do not count). */
export function checkout(root: string): { commit: string; appModified: boolean } {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
  try {
    const changed = git('status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench');
    return { commit: git('rev-parse', '--short', 'HEAD'), appModified: changed !== '' };
  } catch {
    return { commit: 'unknown', appModified: false };
  }
}

async function main() {
  const at = process.argv.indexOf('--out');
  const out = at > 0 ? process.argv[at + 1] : undefined;
  const result = {
    date: new Date().toISOString(),
    ...checkout(ROOT),
    ...(await lanesBenchmark(lanesScenario(ROOT))),
  };
  console.log(`lanes: ${JSON.stringify(result)}`);
  if (out) writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
