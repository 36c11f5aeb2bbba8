import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { validate } from '@hyperjump/json-schema/openapi-3-1';

/**
 * Real answers checked against the app's OpenAPI 3.1 document with @hyperjump/json-schema, which
 * implements OpenAPI 3.1's schema dialect (JSON Schema 2020-12 plus OpenAPI's vocabulary) and the
 * 3.1 meta-schema the document itself is checked with (docs/dependencies.md says why this one). The
 * checker finds each answer's operation and declared response, validates its body against that
 * response's schema and its declared headers, and remembers which responses were exercised.
 */

type Doc = {
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, { responses: Record<string, DeclaredResponse> }>>;
};
interface DeclaredResponse {
  headers?: Record<string, unknown>;
  content?: Record<string, unknown>;
}

const pointer = (...segments: string[]) =>
  segments.map((s) => `/${encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'))}`).join('');

export interface OpenApiChecker {
  /** The 3.1 meta-schema's verdict on the document itself, its schemas included. */
  documentErrors(): Promise<unknown>;
  /** Problems with one answer (empty when it matches the document); records the response as exercised. */
  check(method: string, url: string, answer: Response): Promise<string[]>;
  /** Every declared `METHOD path status`, and those no answer has exercised yet. */
  declared: string[];
  missing(): string[];
}

export function openApiChecker(doc: Doc): OpenApiChecker {
  const dir = mkdtempSync(path.join(tmpdir(), 'openapi-'));
  // A file named *.openapi.json is read as an OpenAPI document, so its schemas use OpenAPI's dialect.
  const file = path.join(dir, 'notifier.openapi.json');
  writeFileSync(file, JSON.stringify(doc));
  const uri = pathToFileURL(file).href;
  const base = new URL(doc.servers[0]!.url, 'http://x').pathname.replace(/\/$/, '');
  const templates = Object.keys(doc.paths).map((template) => ({
    template,
    re: new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`),
  }));
  const declared = Object.entries(doc.paths).flatMap(([p, ops]) =>
    Object.entries(ops).flatMap(([method, op]) =>
      Object.keys(op.responses).map((status) => `${method.toUpperCase()} ${p} ${status}`),
    ),
  );
  const seen = new Set<string>();

  return {
    declared,
    missing: () => declared.filter((d) => !seen.has(d)),
    documentErrors: async () => {
      // The 3.1 meta-schema for documents whose schemas are JSON Schema 2020-12 (jsonSchemaDialect).
      const output = await validate(
        'https://spec.openapis.org/oas/3.1/schema-draft-2020-12',
        doc as never,
        'BASIC',
      );
      return output.valid ? [] : output.errors;
    },
    async check(method, url, answer) {
      const route = new URL(url).pathname.slice(base.length);
      const match = templates.find((t) => t.re.test(route));
      if (!match) return [`${route} is not in the document`];
      const m = method.toLowerCase();
      const operation = doc.paths[match.template]![m];
      if (!operation) return [`${method} ${match.template} is not in the document`];
      const status = String(answer.status);
      const declaredResponse = operation.responses[status];
      if (!declaredResponse) return [`${method} ${match.template} does not declare ${status}`];
      seen.add(`${method.toUpperCase()} ${match.template} ${status}`);
      const problems: string[] = [];
      for (const header of Object.keys(declaredResponse.headers ?? {}))
        if (!answer.headers.has(header)) problems.push(`${status} lacks the ${header} header`);
      const type = answer.headers.get('content-type')?.split(';')[0]?.trim() ?? '';
      if (!declaredResponse.content) return problems;
      if (!declaredResponse.content[type]) return [...problems, `${status} answered ${type}, not declared`];
      const body = (await answer.clone().json()) as never;
      const where = `${uri}#${pointer('paths', match.template, m, 'responses', status, 'content', type, 'schema')}`;
      const output = await validate(where, body, 'BASIC');
      if (!output.valid) problems.push(`${status} body: ${JSON.stringify(output.errors).slice(0, 600)}`);
      return problems;
    },
  };
}
