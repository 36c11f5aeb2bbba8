/**
 * Builds the Teams app package: fills the `${{NAME}}` placeholders of appPackage/manifest.json,
 * draws the icons, checks the result (validate.ts) and zips manifest.json, color.png and
 * outline.png at the zip's root, as Teams expects.
 *
 * Values come from, first match wins: the environment, the azd environment's .env file
 * (.azure/<AZURE_ENV_NAME or azd's default>/.env, where `azd up` writes infra/main.bicep's outputs),
 * then appPackage/app.env.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { colorIcon, outlineIcon } from './icons.js';
import { checkAppPackage } from './validate.js';

type Env = Record<string, string | undefined>;

export const PLACEHOLDER = /\$\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** KEY=value lines, as azd and dotenv write them (optional quotes, # comments). */
export function parseEnvFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || line.trim().startsWith('#')) continue;
    let value = match[2]!;
    if (/^".*"$/.test(value)) value = JSON.parse(value) as string;
    else if (/^'.*'$/.test(value)) value = value.slice(1, -1);
    values[match[1]!] = value;
  }
  return values;
}

function readEnvFile(file: string): Record<string, string> {
  return existsSync(file) ? parseEnvFile(readFileSync(file, 'utf8')) : {};
}

/** The azd environment's values: AZURE_ENV_NAME, else the default in .azure/config.json. */
export function azdEnvironment(root: string, env: Env): { name?: string; values: Record<string, string> } {
  let name = env.AZURE_ENV_NAME;
  const config = path.join(root, '.azure', 'config.json');
  if (!name && existsSync(config)) {
    name = (JSON.parse(readFileSync(config, 'utf8')) as { defaultEnvironment?: string }).defaultEnvironment;
  }
  if (!name) return { values: {} };
  return { name, values: readEnvFile(path.join(root, '.azure', name, '.env')) };
}

export function fillPlaceholders(template: string, lookup: (name: string) => string | undefined) {
  const missing = new Set<string>();
  const text = template.replace(PLACEHOLDER, (whole, name: string) => {
    const value = lookup(name);
    if (value === undefined) {
      missing.add(name);
      return whole;
    }
    // Values land inside JSON strings.
    return JSON.stringify(value).slice(1, -1);
  });
  return { text, missing: [...missing] };
}

export interface BuiltPackage {
  zipPath: string;
  manifest: Record<string, unknown>;
  problems: string[];
}

export class PackageError extends Error {
  override name = 'PackageError';
}

export function buildAppPackage(options: { root: string; env?: Env; outDir?: string }): BuiltPackage {
  const { root, env = process.env } = options;
  const appDir = path.join(root, 'appPackage');
  const azd = azdEnvironment(root, env);
  const defaults = readEnvFile(path.join(appDir, 'app.env'));
  const lookup = (name: string) => env[name] ?? azd.values[name] ?? defaults[name];
  const { text, missing } = fillPlaceholders(
    readFileSync(path.join(appDir, 'manifest.json'), 'utf8'),
    lookup,
  );
  if (missing.length) {
    // No azd release runs this script while packaging the service (azd's Node packaging runs
    // `npm run build`: cli/azd/pkg/project/framework_service_node.go), so missing values are an error.
    throw new PackageError(
      `no value for ${missing.join(', ')}: run \`azd up\` (or \`azd env refresh\`) so the azd environment ` +
        `${azd.name ? `"${azd.name}" ` : ''}has the infrastructure's outputs, or set them in the environment`,
    );
  }
  const manifest = JSON.parse(text) as Record<string, unknown>;
  const color = colorIcon();
  const outline = outlineIcon();
  const zip = zipSync(
    {
      'manifest.json': strToU8(JSON.stringify(manifest, null, 2)),
      'color.png': color,
      'outline.png': outline,
    },
    // A fixed date: the same inputs give the same bytes.
    { level: 9, mtime: new Date('2025-01-01T00:00:00Z') },
  );
  const outDir = options.outDir ?? path.join(appDir, 'build');
  mkdirSync(outDir, { recursive: true });
  const zipPath = path.join(outDir, `appPackage.${azd.name ?? 'local'}.zip`);
  writeFileSync(zipPath, zip);
  // Unzipped copies, to look at or to hand to `atk validate --manifest-file`.
  writeFileSync(path.join(outDir, `manifest.${azd.name ?? 'local'}.json`), JSON.stringify(manifest, null, 2));
  writeFileSync(path.join(outDir, 'color.png'), color);
  writeFileSync(path.join(outDir, 'outline.png'), outline);
  return { zipPath, manifest, problems: checkAppPackage(zip) };
}
