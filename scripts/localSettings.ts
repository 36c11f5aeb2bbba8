import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** Like `func start`: copy local.settings.json Values into the environment where not already set. */
export function loadLocalSettings(file = resolve(process.cwd(), 'local.settings.json')): void {
  if (!existsSync(file)) return;
  const values = (JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, string> }).Values ?? {};
  for (const [key, value] of Object.entries(values)) {
    if (process.env[key] === undefined) process.env[key] = String(value);
  }
}
