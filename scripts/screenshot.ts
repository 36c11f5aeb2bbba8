/** `npm run screenshot`: refreshes docs/sandbox-dm.png (needs Debian's chromium). */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumMissing, screenshotDm } from './sandbox/screenshot.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const out = path.join(ROOT, 'docs', 'sandbox-dm.png');

const missing = chromiumMissing();
if (missing) {
  console.error(`screenshot: ${missing}`);
  process.exit(2);
}
try {
  const { text } = await screenshotDm(ROOT, out);
  console.log(`Saved ${path.relative(ROOT, out)}: the Playground's 1:1 chat showing "${text}"`);
  process.exit(0);
} catch (err) {
  console.error(`screenshot: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
