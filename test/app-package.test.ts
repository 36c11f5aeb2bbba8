import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { strToU8, unzipSync, zipSync } from 'fflate';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { buildAppPackage } from '../scripts/app-package/build.js';
import { checkAppPackage, validateManifest } from '../scripts/app-package/validate.js';
import { ROOT } from './support/app.js';

/**
 * The Teams app package: `npm run package` fills the manifest's placeholders and zips it with the
 * icons; the package is checked offline against Microsoft's schema for its manifestVersion (from
 * the @microsoft/app-manifest npm package), for its layout and for its icons. Broken copies fail.
 */

const run = promisify(execFile);
const VALUES = {
  TEAMS_APP_ID: '0b7c3f3e-5b7e-4a34-9d55-3f1e2a7c9d10',
  BOT_ID: '6d0e8b2a-2c1f-4f8e-9a3b-7c5d4e3f2a10',
  BOT_DOMAIN: 'func-notifier-x7k2.azurewebsites.net',
};
const ENV_NAME = `vitest-${process.pid}`;
const zipPath = path.join(ROOT, 'appPackage', 'build', `appPackage.${ENV_NAME}.zip`);
const temp = mkdtempSync(path.join(tmpdir(), 'app-package-'));

afterAll(() => {
  rmSync(temp, { recursive: true, force: true });
  rmSync(zipPath, { force: true });
  rmSync(path.join(ROOT, 'appPackage', 'build', `manifest.${ENV_NAME}.json`), { force: true });
});

type Manifest = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function packageNow(env: Record<string, string>) {
  return run(process.execPath, [path.join(ROOT, 'dist', 'scripts', 'package.js')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', AZURE_ENV_NAME: ENV_NAME, ...env },
  });
}

function files(zip: Uint8Array) {
  return unzipSync(zip);
}

function rezip(entries: Record<string, Uint8Array>) {
  return zipSync(entries);
}

function withManifest(entries: Record<string, Uint8Array>, change: (m: Manifest) => void) {
  const manifest = JSON.parse(Buffer.from(entries['manifest.json']!).toString('utf8')) as Manifest;
  change(manifest);
  return rezip({ ...entries, 'manifest.json': strToU8(JSON.stringify(manifest)) });
}

describe('npm run package', () => {
  let zip: Uint8Array;

  it('writes a zip that passes the schema, layout and icon checks', async () => {
    const { stdout } = await packageNow(VALUES);
    expect(stdout).toContain(`appPackage.${ENV_NAME}.zip (bot ${VALUES.BOT_ID})`);
    zip = readFileSync(zipPath);
    expect(checkAppPackage(zip)).toEqual([]);
    expect(Object.keys(files(zip)).sort()).toEqual(['color.png', 'manifest.json', 'outline.png']);
  });

  it('fills the bot, app and domain from the deployment and declares what Teams needs', () => {
    const m = JSON.parse(Buffer.from(files(zip)['manifest.json']!).toString('utf8')) as Manifest;
    expect(Number(m.manifestVersion)).toBeGreaterThanOrEqual(1.24);
    expect(m.id).toBe(VALUES.TEAMS_APP_ID);
    expect(m.bots[0].botId).toBe(VALUES.BOT_ID);
    expect(m.bots[0].scopes.sort()).toEqual(['groupChat', 'personal', 'team']);
    expect(m.bots[0].supportsFiles).toBe(false);
    const personal = m.bots[0].commandLists.find((l: Manifest) => l.scopes.includes('personal'));
    expect(personal.commands.map((c: Manifest) => c.title)).toEqual(['help', 'stop', 'start']);
    expect(m.validDomains).toEqual([VALUES.BOT_DOMAIN]);
    expect(m.webApplicationInfo.id).toBe(VALUES.BOT_ID);
    expect(m.authorization.permissions.resourceSpecific).toContainEqual({
      name: 'ChatMessageReadReceipt.Read.Chat',
      type: 'Application',
    });
  });

  it('draws a 192x192 colour icon and a 32x32 white-on-transparent outline icon', () => {
    const color = PNG.sync.read(Buffer.from(files(zip)['color.png']!));
    const outline = PNG.sync.read(Buffer.from(files(zip)['outline.png']!));
    expect([color.width, color.height]).toEqual([192, 192]);
    expect([outline.width, outline.height]).toEqual([32, 32]);
    const alphas = new Set<number>();
    for (let i = 0; i < outline.data.length; i += 4) alphas.add(outline.data[i + 3]!);
    expect(alphas.has(0)).toBe(true); // transparent background
    expect(alphas.has(255)).toBe(true); // a solid glyph
  });

  it('names the missing values and fails when the deployment outputs are absent', async () => {
    const failed = await run(process.execPath, [path.join(ROOT, 'dist', 'scripts', 'package.js')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', BOT_ID: VALUES.BOT_ID },
    }).catch((err: { code: number; stderr: string }) => err);
    expect(failed).toMatchObject({ code: 1 });
    expect((failed as { stderr: string }).stderr).toContain('no value for TEAMS_APP_ID, BOT_DOMAIN');
  });

  it('fails for an azd environment that is not provisioned yet, naming it (azd never runs this script)', async () => {
    const failed = await packageNow({}).catch((err: { code: number; stderr: string }) => err);
    expect(failed).toMatchObject({ code: 1 });
    expect((failed as { stderr: string }).stderr).toContain(
      `run \`azd up\` (or \`azd env refresh\`) so the azd environment "${ENV_NAME}" has the infrastructure's outputs`,
    );
  });

  it("takes values from the azd environment's .env file", () => {
    const root = path.join(temp, 'repo');
    cpSync(path.join(ROOT, 'appPackage', 'manifest.json'), path.join(root, 'appPackage', 'manifest.json'));
    cpSync(path.join(ROOT, 'appPackage', 'app.env'), path.join(root, 'appPackage', 'app.env'));
    mkdirSync(path.join(root, '.azure', 'dev'), { recursive: true });
    writeFileSync(path.join(root, '.azure', 'config.json'), '{"version":1,"defaultEnvironment":"dev"}');
    writeFileSync(
      path.join(root, '.azure', 'dev', '.env'),
      Object.entries(VALUES)
        .map(([k, v]) => `${k}="${v}"`)
        .join('\n'),
    );
    const built = buildAppPackage({ root, env: {} });
    expect(built.problems).toEqual([]);
    expect(path.basename(built.zipPath)).toBe('appPackage.dev.zip');
    expect((built.manifest.bots as Manifest[])[0]!.botId).toBe(VALUES.BOT_ID);
  });
});

describe('a broken package fails the check', () => {
  const good = () => files(readFileSync(zipPath));

  it.each([
    ['a scope Teams does not know', (m: Manifest) => (m.bots[0].scopes = ['personal', 'meetings'])],
    ['a property the schema does not allow', (m: Manifest) => (m.bots[0].supportsReadReceipts = true)],
    ['no developer', (m: Manifest) => delete m.developer],
    ['a bot ID that is not a GUID', (m: Manifest) => (m.bots[0].botId = 'not-a-guid')],
    ['a name longer than 30 characters', (m: Manifest) => (m.name.short = 'x'.repeat(31))],
    ['an unfilled placeholder', (m: Manifest) => (m.validDomains = ['${{BOT_DOMAIN}}'])],
    ['an unknown manifestVersion', (m: Manifest) => (m.manifestVersion = '0.9')],
  ])('%s', (_what, change) => {
    const problems = checkAppPackage(withManifest(good(), change));
    expect(problems.length).toBeGreaterThan(0);
  });

  it('an outline icon of the wrong size', () => {
    const entries = good();
    const problems = checkAppPackage(rezip({ ...entries, 'outline.png': entries['color.png']! }));
    expect(problems).toEqual(['outline.png (outline icon) must be 32x32 pixels, is 192x192']);
  });

  it('an outline icon with a coloured pixel', () => {
    const entries = good();
    const png = PNG.sync.read(Buffer.from(entries['outline.png']!));
    png.data.set([255, 0, 0, 255], (16 * 32 + 16) * 4);
    const problems = checkAppPackage(rezip({ ...entries, 'outline.png': PNG.sync.write(png) }));
    expect(problems).toEqual(['outline.png (outline icon) may hold only white and transparent pixels']);
  });

  it('icons in a folder instead of the zip root', () => {
    const { 'color.png': color, ...rest } = good();
    const problems = checkAppPackage(rezip({ ...rest, 'icons/color.png': color! }));
    expect(problems).toContain("icons/color.png: Teams needs every file at the zip's root, with no folders");
    expect(problems).toContain('color.png (color icon named in the manifest) is missing from the zip');
  });

  it('a manifest that is not JSON, and a file that is not a zip', () => {
    expect(checkAppPackage(rezip({ ...good(), 'manifest.json': strToU8('{ "id": ') }))[0]).toMatch(
      /^manifest.json is not valid JSON/,
    );
    expect(checkAppPackage(strToU8('not a zip'))[0]).toMatch(/^the package is not a zip file/);
  });

  it('the checked-in template, unfilled, is refused and its placeholders named', () => {
    const template = JSON.parse(
      readFileSync(path.join(ROOT, 'appPackage', 'manifest.json'), 'utf8'),
    ) as Manifest;
    const problems = validateManifest(template);
    // Every schema complaint is about a placeholder standing where a GUID or URL belongs.
    expect(problems.at(-1)).toMatch(/^manifest has unfilled placeholders: .*\$\{\{BOT_ID\}\}/);
  });
});
