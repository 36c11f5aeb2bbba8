/**
 * The size of what azd uploads: `npm run bench:zip` (also the last step of `npm run bench`). Zips the
 * folder azure.yaml's `dist` names the way azd does (scripts/deploy/zip.ts), and, for comparison, the
 * same build staged with linked source maps. Writes the `deploy-zip` section of bench/RESULTS.md.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { stageDeployment } from '../scripts/deploy/stage.js';
import { azdDeployZip } from '../scripts/deploy/zip.js';
import { formatMarkdown, writeSection } from './results.js';

const MiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;

function measure(folder: string, remoteBuild: boolean | undefined) {
  const { zip, files } = azdDeployZip(folder, remoteBuild);
  const sizes = files.map((name) => ({ name, bytes: statSync(path.join(folder, name)).size }));
  const largest = sizes.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  return {
    files: files.length,
    unpackedBytes: sizes.reduce((sum, f) => sum + f.bytes, 0),
    mapBytes: sizes.filter((f) => f.name.endsWith('.map')).reduce((sum, f) => sum + f.bytes, 0),
    zipBytes: zip.length,
    largest,
  };
}

export async function deployZipBenchmark(root: string) {
  const yaml = parse(readFileSync(path.join(root, 'azure.yaml'), 'utf8')) as {
    services: Record<string, { project: string; dist?: string; remoteBuild?: boolean }>;
  };
  const service = yaml.services.notifier!;
  const dist = path.resolve(root, service.project, service.dist ?? '');
  const withMapsDir = mkdtempSync(path.join(tmpdir(), 'deploy-maps-'));
  try {
    await stageDeployment({ root, outDir: withMapsDir, sourcemap: true });
    return {
      dist: path.relative(root, dist).split(path.sep).join('/'),
      remoteBuild: service.remoteBuild,
      uploaded: measure(dist, service.remoteBuild),
      withSourceMaps: measure(withMapsDir, service.remoteBuild),
    };
  } finally {
    rmSync(withMapsDir, { recursive: true, force: true });
  }
}

export function deployZipSection(r: Awaited<ReturnType<typeof deployZipBenchmark>>, date: string): string {
  const u = r.uploaded;
  const m = r.withSourceMaps;
  return `<!-- deploy-zip:start -->

## Deployment artifact: what azd uploads

Command: \`npm run bench:zip\` (build, then \`node dist/bench/deployZip.js\`; also the last step of \`npm run bench\`), run ${date}.

| Measure | Result |
|---|---|
| The zip azd uploads: \`${r.dist}\` (azure.yaml \`dist\`, \`remoteBuild: ${String(r.remoteBuild)}\`), files / unpacked / zipped | ${u.files} / ${MiB(u.unpackedBytes)} / **${MiB(u.zipBytes)}** |
| Largest file in it | \`${u.largest.name.replace(/-[A-Z0-9]{8}\./, '-….')}\`, ${MiB(u.largest.bytes)} |
| The same build with linked source maps: files / unpacked (maps) / zipped | ${m.files} / ${MiB(m.unpackedBytes)} (${MiB(m.mapBytes)}) / ${MiB(m.zipBytes)} |

- **How:** \`scripts/deploy/zip.ts\` zips the folder as azd's \`createDeployableZip\` does
  (cli/azd/pkg/project/project_utils.go and cli/azd/pkg/rzip/rzip.go in Azure/azure-dev): every file,
  symlinks resolved, a \`.funcignore\` in the folder honoured (there is none), \`.azure\` folders and
  \`local.settings.json\` left out, each entry deflated at level 5 as Go's archive/zip does. The encoder is
  fflate's, not Go's, so azd's zip differs by a few per cent (zlib at level 5 made the same folder 2 % smaller).
  \`test/deploy-artifact.test.ts\` boots this zip.
- **Source maps are left out:** they would multiply the upload by ${(m.zipBytes / u.zipBytes).toFixed(1)} and Node reads them only
  with \`--enable-source-maps\`, which the app does not set (in Azure that is \`languageWorkers__node__arguments\`).
  Stack traces keep function names (\`keepNames\`).
- **Before (d0a8817, measured once with the same zip code on a checkout of that commit):** azd zipped the
  project root through the old \`.funcignore\`: 200 files, 31.51 MiB unpacked (21.69 MiB of source maps,
  \`tsconfig*.json\`, \`README.md\`, \`package-lock.json\` and more), 6.70 MiB zipped; and since that
  \`.funcignore\` left out node_modules with \`remoteBuild\` unset, azd asked Azure to build it remotely.

<!-- deploy-zip:end -->`;
}

export async function deployZipResults(root: string): Promise<void> {
  const result = await deployZipBenchmark(root);
  console.log(`deploy zip: ${JSON.stringify(result)}`);
  const file = path.join(root, 'bench', 'RESULTS.md');
  writeSection(file, 'deploy-zip', deployZipSection(result, new Date().toISOString()));
  await formatMarkdown(file);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await deployZipResults(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..'));
}
