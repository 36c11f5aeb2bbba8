/**
 * `npm run build`, after tsc: stages the deployment in dist/deploy (scripts/deploy/stage.ts), the
 * folder azd uploads (azure.yaml `dist`) and the sandbox and tests run.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEPLOY_DIR, deployDir } from './deploy/layout.js';
import { stageDeployment } from './deploy/stage.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const files = await stageDeployment({ root, outDir: deployDir(root) });
const bytes = files.reduce((sum, f) => sum + f.bytes, 0);
console.log(`staged: ${files.length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB in ${DEPLOY_DIR}`);
