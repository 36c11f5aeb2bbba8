/**
 * What azd does with a function app service whose azure.yaml names a `dist` folder, checked against
 * azd's source (github.com/Azure/azure-dev, cli/azd/pkg/project/):
 * - service_target_functionapp.go `resolveFunctionAppRemoteBuild`: for js/ts it reads `.funcignore`
 *   from the service's project folder (not `dist`) and refuses `remoteBuild: false` when that file
 *   excludes node_modules;
 * - project_utils.go `createDeployableZip` (with pkg/rzip/rzip.go `CreateFromDirectory`): zips the
 *   `dist` folder recursively, symlinks resolved, honouring a `.funcignore` in that folder with
 *   gitignore semantics, and always leaving out `.azure` folders, the `.funcignore` itself and
 *   `local.settings.json`; with no `.funcignore`, node_modules is left out unless remoteBuild is false.
 * Entries are deflated at level 5, as Go's archive/zip does (golang/go src/archive/zip/register.go,
 * newFlateWriter); the encoder is fflate's, so the size is close to azd's, not byte-identical.
 */
import { lstatSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { zipSync, type Zippable } from 'fflate';
import ignore, { type Ignore } from 'ignore';

const IGNORE_FILE = '.funcignore';

function readIgnoreFile(folder: string): Ignore | undefined {
  let text: string;
  try {
    text = readFileSync(path.join(folder, IGNORE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  // azd strips a UTF-8 byte order mark first (stripUTF8BOM).
  return ignore().add(text.replace(/^\uFEFF/, ''));
}

/**
 * The remote build setting azd uses for a js/ts function app on Flex Consumption, or the error it
 * stops with (resolveFunctionAppRemoteBuild).
 */
export function azdRemoteBuild(projectDir: string, remoteBuild: boolean | undefined): boolean {
  const ignorer = readIgnoreFile(projectDir);
  if (!ignorer) return remoteBuild ?? true;
  const nodeModulesExcluded = ignorer.ignores('node_modules/');
  if (remoteBuild === undefined) return nodeModulesExcluded;
  if (remoteBuild && !nodeModulesExcluded) {
    throw new Error(`'remoteBuild: true' requires '${IGNORE_FILE}' to exclude node_modules`);
  }
  if (!remoteBuild && nodeModulesExcluded) {
    throw new Error(`'remoteBuild: false' cannot be used when '${IGNORE_FILE}' excludes node_modules`);
  }
  return remoteBuild;
}

export interface DeployZip {
  zip: Uint8Array;
  /** Paths in the zip, forward slashes, in the order azd adds them. */
  files: string[];
}

/** The zip azd uploads for a function app service, made from its `dist` folder (createDeployableZip). */
export function azdDeployZip(folder: string, remoteBuild: boolean | undefined): DeployZip {
  const ignorer = readIgnoreFile(folder);
  const entries: Zippable = {};
  const files: string[] = [];
  const walk = (dir: string, prefix: string, symlinkDepth: number): void => {
    // Like rzip: too many levels of symbolic links are skipped, as the zip tool does.
    if (symlinkDepth > 40) return;
    // os.ReadDir sorts by file name (byte order).
    const names = readdirSync(dir).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) {
      const src = path.join(dir, name);
      const link = lstatSync(src).isSymbolicLink();
      const target = link ? realpathSync(src) : src;
      const isDir = statSync(target).isDirectory();
      const rel = `${prefix}${name}`;
      if (name === '.azure' && isDir) continue;
      if (name === IGNORE_FILE && !isDir) continue;
      if (name === 'local.settings.json' && !isDir) continue;
      if (ignorer) {
        if (ignorer.ignores(isDir ? `${rel}/` : rel)) continue;
      } else if (name === 'node_modules' && isDir && remoteBuild !== false) {
        continue;
      }
      if (isDir) {
        walk(target, `${rel}/`, symlinkDepth + (link ? 1 : 0));
      } else {
        entries[rel] = [readFileSync(target), { level: 5, mtime: statSync(target).mtime }];
        files.push(rel);
      }
    }
  };
  walk(folder, '', 0);
  return { zip: zipSync(entries), files };
}
