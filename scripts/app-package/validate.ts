/**
 * Offline checks of a Teams app package: the manifest against Microsoft's published JSON schema for
 * its manifestVersion (bundled by the @microsoft/app-manifest npm package), no unfilled
 * placeholders, the zip's layout (files at its root, nothing else) and the icons' sizes and pixels.
 * Every function returns problems as sentences; an empty list means the package passed.
 */
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import AjvDraft04Module from 'ajv-draft-04';
import addFormatsModule from 'ajv-formats';
import { unzipSync } from 'fflate';
import { PNG } from 'pngjs';
import { COLOR_SIZE, OUTLINE_SIZE } from './icons.js';

const require = createRequire(import.meta.url);
// CommonJS packages: their default export, typed by hand (as shared/jobs/contract.ts does for ajv-formats).
type Validator = ((data: unknown) => boolean) & {
  errors?: { instancePath: string; keyword: string; message?: string; params: unknown }[] | null;
};
interface AjvLike {
  compile(schema: object): Validator;
}
const AjvDraft04 = ((AjvDraft04Module as unknown as { default?: unknown }).default ??
  AjvDraft04Module) as new (options: object) => AjvLike;
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: AjvLike,
) => unknown;

/** Path of the schema file @microsoft/app-manifest ships for a manifest version, e.g. "1.24". */
export function schemaPath(manifestVersion: string): string {
  const root = path.dirname(require.resolve('@microsoft/app-manifest/package.json'));
  return path.join(
    root,
    'build',
    'json-schemas',
    'teams',
    `v${manifestVersion}`,
    'MicrosoftTeams.schema.json',
  );
}

const validators = new Map<string, Validator>();

export function validateManifest(manifest: unknown): string[] {
  if (!manifest || typeof manifest !== 'object' || Array.isArray(manifest)) {
    return ['manifest.json is not a JSON object'];
  }
  const version = (manifest as { manifestVersion?: unknown }).manifestVersion;
  if (typeof version !== 'string' || !/^\d+\.\d+$/.test(version)) {
    return [`manifestVersion must be a version like "1.24", got ${JSON.stringify(version)}`];
  }
  const file = schemaPath(version);
  if (!existsSync(file)) return [`no published schema for manifestVersion ${version}`];
  let validate = validators.get(version);
  if (!validate) {
    // The Teams schemas are JSON Schema draft-04; formats (uri, email, ...) are checked too.
    const ajv = new AjvDraft04({ allErrors: true, strict: false });
    addFormats(ajv);
    validate = ajv.compile(JSON.parse(readFileSync(file, 'utf8')) as object);
    validators.set(version, validate);
  }
  const problems: string[] = [];
  if (!validate(manifest)) {
    for (const e of validate.errors ?? []) {
      const where = e.instancePath || '/';
      const extra =
        e.keyword === 'additionalProperties'
          ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})`
          : e.keyword === 'enum'
            ? ` (${JSON.stringify((e.params as { allowedValues?: unknown }).allowedValues)})`
            : '';
      problems.push(`manifest ${where}: ${e.message ?? e.keyword}${extra}`);
    }
  }
  const placeholders = JSON.stringify(manifest).match(/\$\{\{[^}]*\}\}/g);
  if (placeholders)
    problems.push(`manifest has unfilled placeholders: ${[...new Set(placeholders)].join(', ')}`);
  return problems;
}

/** Size and pixel rules Teams states for the two icons. */
export function checkIcon(kind: 'color' | 'outline', name: string, bytes: Uint8Array): string[] {
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes));
  } catch (err) {
    return [`${name} is not a PNG: ${(err as Error).message}`];
  }
  const size = kind === 'color' ? COLOR_SIZE : OUTLINE_SIZE;
  if (png.width !== size || png.height !== size) {
    return [`${name} (${kind} icon) must be ${size}x${size} pixels, is ${png.width}x${png.height}`];
  }
  if (kind === 'outline') {
    let transparent = 0;
    for (let i = 0; i < png.data.length; i += 4) {
      const [r, g, b, a] = [png.data[i], png.data[i + 1], png.data[i + 2], png.data[i + 3]];
      if (a === 0) transparent++;
      else if (r !== 255 || g !== 255 || b !== 255) {
        return [`${name} (outline icon) may hold only white and transparent pixels`];
      }
    }
    if (transparent === 0) return [`${name} (outline icon) must have a transparent background`];
  }
  return [];
}

/** Everything above, on the zip as it will be uploaded. */
export function checkAppPackage(zip: Uint8Array): string[] {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(zip);
  } catch (err) {
    return [`the package is not a zip file: ${(err as Error).message}`];
  }
  const names = Object.keys(files);
  const problems = names
    .filter((name) => name.includes('/'))
    .map((name) => `${name}: Teams needs every file at the zip's root, with no folders`);
  const manifestBytes = files['manifest.json'];
  if (!manifestBytes) return [...problems, 'manifest.json is missing from the zip root'];
  let manifest: { icons?: { color?: string; outline?: string } };
  try {
    manifest = JSON.parse(Buffer.from(manifestBytes).toString('utf8')) as typeof manifest;
  } catch (err) {
    return [...problems, `manifest.json is not valid JSON: ${(err as Error).message}`];
  }
  problems.push(...validateManifest(manifest));
  const expected = new Set(['manifest.json']);
  for (const kind of ['color', 'outline'] as const) {
    const name = manifest.icons?.[kind];
    if (!name) continue; // the schema check reports it
    expected.add(name);
    const bytes = files[name];
    if (!bytes) problems.push(`${name} (${kind} icon named in the manifest) is missing from the zip`);
    else problems.push(...checkIcon(kind, name, bytes));
  }
  for (const name of names) {
    if (!expected.has(name) && !name.includes('/')) problems.push(`${name}: not referenced by the manifest`);
  }
  return problems;
}
