import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BICEP_TYPES, WEBTEST_CRITERIA } from './fixtures/bicepTypes.js';
import { ROOT } from './support/app.js';

/**
 * infra/health.bicep against Microsoft's Bicep type definitions (test/fixtures/bicepTypes.ts), read
 * as text since no Bicep compiler can be installed here: each resource uses only properties its type
 * defines, and sets every required one.
 */

const bicep = readFileSync(path.join(ROOT, 'infra/health.bicep'), 'utf8');

/** Each `resource x '<type>' = { ... }` block (up to the `}` at column 0) with its keys. */
function resources(text: string) {
  return [...text.matchAll(/^resource \w+ '([^']+)' = \{\n([\s\S]*?)^\}/gm)].map((m) => ({
    type: m[1]!,
    body: m[2]!,
    // `key:` at a line start, or inside `{ key: ... }`; quoted keys as written ('odata.type').
    keys: new Set([...m[2]!.matchAll(/(?:^\s+|\{\s*)('[\w.]+'|\w+):/gm)].map((k) => k[1]!.replace(/'/g, ''))),
  }));
}

describe('infra/health.bicep', () => {
  const found = resources(bicep);

  it('declares a standard availability test and a metric alert on it', () => {
    expect(found.map((r) => r.type)).toEqual(Object.keys(BICEP_TYPES));
    expect(found[0]!.body).toMatch(/^ {2}kind: 'standard'$/m);
    expect(found[0]!.body).toMatch(/^ {4}Kind: 'standard'$/m);
    expect(found[1]!.body).toContain(`'odata.type': '${WEBTEST_CRITERIA}'`);
  });

  it('uses only properties Microsoft defines for each type, and every required one', () => {
    for (const { type, keys } of found) {
      const known = BICEP_TYPES[type]!;
      const unknown = [...keys].filter((k) => !known.properties.includes(k));
      expect(unknown, `${type} (${known.source})`).toEqual([]);
      const missing = known.required.filter((k) => !keys.has(k));
      expect(missing, `${type} (${known.source})`).toEqual([]);
    }
  });

  it("is what the workbook's health tiles query, by the test's name", () => {
    const name = /^ {4}Name: '([^']+)'$/m.exec(found[0]!.body)![1]!;
    const workbook = JSON.parse(readFileSync(path.join(ROOT, 'docs/workbook.json'), 'utf8')) as {
      items: Array<{ content?: { query?: string } }>;
    };
    const queries = workbook.items
      .map((i) => i.content?.query ?? '')
      .filter((q) => q.includes('availabilityResults'));
    expect(queries.length).toBeGreaterThan(0);
    for (const q of queries) expect(q).toContain(`name == "${name}"`);
  });

  it('would fail on a misspelt property', () => {
    const typo = resources(bicep.replace('ExpectedHttpStatusCode', 'ExpectedStatusCode'))[0]!;
    expect([...typo.keys].filter((k) => !BICEP_TYPES[typo.type]!.properties.includes(k))).toEqual([
      'ExpectedStatusCode',
    ]);
  });
});
