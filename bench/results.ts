/**
 * bench/RESULTS.md holds the figures of several tools. `npm run bench` writes the body; other tools
 * (the soak) own a section between `<!-- name:start -->` and `<!-- name:end -->` that survives reruns.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const marked = (name: string) => [`<!-- ${name}:start -->`, `<!-- ${name}:end -->`] as const;

/** Replaces the named section (markers included in `section`), or appends it. */
export function writeSection(file: string, name: string, section: string): void {
  const [START, END] = marked(name);
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const start = current.indexOf(START);
  const end = current.indexOf(END);
  const next =
    start >= 0 && end > start
      ? current.slice(0, start) + section + current.slice(end + END.length)
      : `${current.trimEnd()}${current ? '\n\n' : ''}${section}\n`;
  writeFileSync(file, next);
}

/** Writes the body and keeps every marked section the file already had. */
export function writeBody(file: string, body: string): void {
  const previous = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const kept = previous.match(/<!-- ([\w-]+):start -->[\s\S]*?<!-- \1:end -->/g) ?? [];
  writeFileSync(file, body + kept.map((section) => `\n${section}\n`).join(''));
}

/** Formats the file like the repository's own `prettier --write` (dev dependency; skipped without it). */
export async function formatMarkdown(file: string): Promise<void> {
  try {
    const prettier = await import('prettier');
    const options = (await prettier.resolveConfig(file)) ?? {};
    writeFileSync(file, await prettier.format(readFileSync(file, 'utf8'), { ...options, filepath: file }));
  } catch {
    // Unformatted is still correct Markdown.
  }
}
