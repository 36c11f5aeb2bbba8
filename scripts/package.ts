#!/usr/bin/env node
/** `npm run package`: writes the Teams app package zip (see scripts/app-package/build.ts). */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAppPackage, PackageError } from './app-package/build.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

try {
  const built = buildAppPackage({ root });
  if (built.problems.length) {
    console.error(`package: ${built.zipPath} fails validation:\n  ${built.problems.join('\n  ')}`);
    process.exitCode = 1;
  } else {
    const bot = (built.manifest.bots as { botId: string }[] | undefined)?.[0]?.botId;
    console.log(
      `package: ${path.relative(process.cwd(), built.zipPath)} (bot ${bot}); schema, layout and icons checked`,
    );
  }
} catch (err) {
  if (!(err instanceof PackageError)) throw err;
  console.error(`package: ${err.message}`);
  process.exitCode = 1;
}
