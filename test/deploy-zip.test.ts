/**
 * scripts/deploy/zip.ts against what azd's source does (github.com/Azure/azure-dev):
 * cli/azd/pkg/project/project_utils.go `createDeployableZip`, cli/azd/pkg/rzip/rzip.go and
 * cli/azd/pkg/project/service_target_functionapp.go `resolveFunctionAppRemoteBuild`. The
 * deployment artifact test relies on it to build the zip the way azd does.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { azdDeployZip, azdRemoteBuild } from '../scripts/deploy/zip.js';

const temp = mkdtempSync(path.join(tmpdir(), 'azd-zip-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

let n = 0;
/** A folder holding `files` (path → text). */
function folder(files: Record<string, string>): string {
  const dir = path.join(temp, `f${++n}`);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const APP = {
  'main.js': 'export {};',
  'host.json': '{}',
  'local.settings.json': '{}',
  'sub/local.settings.json': '{}',
  '.azure/dev/.env': 'SECRET=1',
  'node_modules/x/index.js': '',
  'notes.md': '',
  'maps/main.js.map': '{}',
};

describe("azd's deployable zip of a function app's dist folder", () => {
  it('drops .azure folders and every local.settings.json; node_modules goes only with remoteBuild false', () => {
    const dir = folder(APP);
    const kept = ['host.json', 'main.js', 'maps/main.js.map', 'notes.md'];
    expect(azdDeployZip(dir, undefined).files.sort()).toEqual(kept);
    expect(azdDeployZip(dir, true).files.sort()).toEqual(kept);
    expect(azdDeployZip(dir, false).files.sort()).toEqual([...kept, 'node_modules/x/index.js'].sort());
  });

  it('honours a .funcignore in that folder with gitignore semantics, and leaves the file itself out', () => {
    const dir = folder({ ...APP, '.funcignore': '\uFEFF*.md\nmaps/\n!keep.md\n', 'keep.md': '' });
    // With an ignore file, node_modules is left to it: azd adds no default exclusion.
    expect(azdDeployZip(dir, undefined).files.sort()).toEqual([
      'host.json',
      'keep.md',
      'main.js',
      'node_modules/x/index.js',
    ]);
  });

  it('follows symbolic links and stores forward-slash paths with their contents', () => {
    const dir = folder({ 'main.js': 'export {};', 'lib/a.js': 'a' });
    symlinkSync(path.join(dir, 'lib'), path.join(dir, 'linked'));
    const { zip, files } = azdDeployZip(dir, false);
    expect(files.sort()).toEqual(['lib/a.js', 'linked/a.js', 'main.js']);
    expect(Buffer.from(unzipSync(zip)['linked/a.js']!).toString()).toBe('a');
  });
});

describe("azd's remote build setting for a js/ts function app on Flex Consumption", () => {
  it('follows remoteBuild when the project has no .funcignore (unset: remote build)', () => {
    const dir = folder({ 'package.json': '{}' });
    expect(azdRemoteBuild(dir, false)).toBe(false);
    expect(azdRemoteBuild(dir, true)).toBe(true);
    expect(azdRemoteBuild(dir, undefined)).toBe(true);
  });

  it('refuses remoteBuild false when the project .funcignore leaves node_modules out', () => {
    const dir = folder({ '.funcignore': 'node_modules\n*.ts\n' });
    expect(() => azdRemoteBuild(dir, false)).toThrow(
      "'remoteBuild: false' cannot be used when '.funcignore' excludes node_modules",
    );
    expect(azdRemoteBuild(dir, undefined)).toBe(true);
    const keeps = folder({ '.funcignore': '*.ts\n' });
    expect(() => azdRemoteBuild(keeps, true)).toThrow("'remoteBuild: true' requires '.funcignore'");
    expect(azdRemoteBuild(keeps, undefined)).toBe(false);
  });
});
