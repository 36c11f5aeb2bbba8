/**
 * Bundles the compiled app (dist/functions/main.js) into dist/app/ with esbuild, for start-up speed:
 * one file to read instead of hundreds, and code splitting so each lazily imported handler (and the
 * heavy SDKs behind it) is its own chunk, loaded on the first invocation that needs it.
 *
 * Run by `npm run build` after tsc. package.json "main" points at dist/app/main.js.
 */
import { build, type Plugin } from 'esbuild';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// CommonJS packages inside an ESM bundle still expect require, __filename and __dirname.
const banner = [
  "import { createRequire as __bundleRequire } from 'node:module';",
  "import { fileURLToPath as __bundleFileUrlToPath } from 'node:url';",
  "import { dirname as __bundleDirname } from 'node:path';",
  'const require = __bundleRequire(import.meta.url);',
  'const __filename = __bundleFileUrlToPath(import.meta.url);',
  'const __dirname = __bundleDirname(__filename);',
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

// Chunk names carry a content hash: clear the old ones so dist/app holds only this build.
rmSync(path.join(root, 'dist/app'), { recursive: true, force: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'dist/functions/main.js' },
  outdir: 'dist/app',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  // Provided by the Functions language worker (or by our local host) at run time.
  external: ['@azure/functions-core'],
  plugins: [userlandPunycode],
  banner: { js: banner },
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  // Chunks sit beside main.js, two levels below the root like dist/shared/*, so paths relative to
  // the module (host.json in shared/hostSettings.ts) resolve the same bundled or not.
  chunkNames: '[name]-[hash]',
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith('.js'));
const bytes = outputs.reduce((sum, [, out]) => sum + out.bytes, 0);
console.log(`bundle: ${outputs.length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB in dist/app`);
