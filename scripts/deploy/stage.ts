/**
 * Stages what runs in Azure in one folder (dist/deploy): the esbuild bundle of the compiled app
 * (dist/functions/main.js), host.json and a package.json for the Functions host, nothing else. The
 * bundle carries every runtime dependency except `@azure/functions-core`, which the Node.js language
 * worker provides, so the folder needs no node_modules. azd zips this folder and uploads it as is.
 *
 * The bundle is split (each lazily imported handler and the heavy SDKs behind it are their own
 * chunk, loaded on the first invocation that needs it), so start-up reads one small file.
 */
import { build, type Plugin } from 'esbuild';
import { copyFileSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export interface StageOptions {
  /** The project root (package.json, host.json, dist/functions/ from tsc). */
  root: string;
  outDir: string;
  /**
   * Linked source maps beside the chunks. Off for the deployment: Node only reads them with
   * --enable-source-maps, which the app does not set, and they are twice the size of the code
   * (bench/RESULTS.md, "Deployment artifact").
   */
  sourcemap?: boolean;
}

export interface StagedFile {
  /** Relative to the staged folder, with forward slashes. */
  name: string;
  bytes: number;
}

/**
 * CommonJS packages inside an ESM bundle still expect require, __filename and __dirname. The last two
 * get names of their own (see `define`): an ES module of the bundle (`open`, under @azure/identity)
 * declares its own `__dirname`, and a second declaration of the same name would not parse.
 */
const banner = [
  "import { createRequire as __bundleCreateRequire } from 'node:module';",
  "import { fileURLToPath as __bundleFileUrlToPath } from 'node:url';",
  "import { dirname as __bundlePathDirname } from 'node:path';",
  'const require = __bundleCreateRequire(import.meta.url);',
  'const __bundleFilename = __bundleFileUrlToPath(import.meta.url);',
  'const __bundleDirname = __bundlePathDirname(__bundleFilename);',
].join('\n');

/**
 * node-fetch@2 (under botframework-connector) pulls in whatwg-url@5 and tr46, which require Node's
 * built-in `punycode`: deprecated, printing DEP0040 on the first request. Bundle the npm package
 * Node's warning points to instead (same API). esbuild's `alias` does not apply to built-ins.
 */
const userlandPunycode: Plugin = {
  name: 'userland-punycode',
  setup(b) {
    b.onResolve({ filter: /^punycode$/ }, () => ({
      path: createRequire(import.meta.url).resolve('punycode/'),
    }));
  },
};

/** The package.json the Functions host reads: ESM, the entry, the Node version; no dependencies. */
export function deployedPackageJson(project: Record<string, unknown>): Record<string, unknown> {
  const { name, version, description, engines } = project;
  return { name, version, description, private: true, type: 'module', main: 'main.js', engines };
}

export function listFiles(dir: string, prefix = ''): StagedFile[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const name = `${prefix}${entry.name}`;
      const full = path.join(dir, entry.name);
      return entry.isDirectory() ? listFiles(full, `${name}/`) : [{ name, bytes: statSync(full).size }];
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

export async function stageDeployment(o: StageOptions): Promise<StagedFile[]> {
  rmSync(o.outDir, { recursive: true, force: true });
  await build({
    absWorkingDir: o.root,
    entryPoints: { main: 'dist/functions/main.js' },
    outdir: o.outDir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    // Provided by the Functions language worker (or by our local host) at run time.
    external: ['@azure/functions-core'],
    plugins: [userlandPunycode],
    banner: { js: banner },
    define: {
      // Only free references: a module's own __dirname stays its own.
      __dirname: '__bundleDirname',
      __filename: '__bundleFilename',
      // Every chunk sits beside host.json: shared/hostSettings.ts reads it from there.
      DEPLOYED_HOST_JSON: JSON.stringify('./host.json'),
    },
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    sourcemap: o.sourcemap ? 'linked' : false,
    // The licence notices stay in the code they belong to, at the end of each chunk.
    legalComments: 'eof',
    chunkNames: '[name]-[hash]',
    logLevel: 'warning',
  });
  copyFileSync(path.join(o.root, 'host.json'), path.join(o.outDir, 'host.json'));
  const project = JSON.parse(readFileSync(path.join(o.root, 'package.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  writeFileSync(
    path.join(o.outDir, 'package.json'),
    `${JSON.stringify(deployedPackageJson(project), null, 2)}\n`,
  );
  return listFiles(o.outDir);
}
