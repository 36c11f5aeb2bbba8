/**
 * Where `npm run build` stages what runs in Azure. azure.yaml's `dist` names the same folder: azd zips
 * it and uploads the zip as is (remoteBuild: false). docs/deploy.md, "What azd runs and uploads".
 */
import path from 'node:path';

/** Relative to the project root. */
export const DEPLOY_DIR = 'dist/deploy';

export function deployDir(root: string): string {
  return path.join(root, ...DEPLOY_DIR.split('/'));
}
