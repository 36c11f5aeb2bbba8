/**
 * HTTP route templates as the Functions host understands them (ASP.NET-style): literal segments
 * (case-insensitive), `{name}`, `{name?}`, `{name=default}`, `{name:constraint}`, `{*catchAll}`, and
 * segments mixing literals and parameters such as `{file}.{ext}`.
 */
import { LocalHostConfigError } from './config.js';

type Constraint = (value: string) => boolean;

interface ParamToken {
  kind: 'param';
  name: string;
  optional: boolean;
  catchAll: boolean;
  defaultValue: string | undefined;
  constraints: Constraint[];
}

type Token = { kind: 'literal'; text: string } | ParamToken;

interface Segment {
  tokens: Token[];
  /** Lower is more specific; used to order routes like ASP.NET does. */
  precedence: number;
  regex: RegExp | undefined;
  params: ParamToken[];
}

export interface RouteMatch {
  params: Record<string, string>;
}

const isNumber = (v: string): boolean => v.trim() !== '' && Number.isFinite(Number(v));

function constraintFor(spec: string, template: string): Constraint {
  const m = /^([a-z]+)(?:\((.*)\))?$/i.exec(spec);
  const name = m?.[1]?.toLowerCase();
  const arg = m?.[2];
  const args = arg?.split(',').map((a) => Number(a.trim())) ?? [];
  const [a = NaN, b = NaN] = args;
  switch (name) {
    case 'int':
    case 'long':
      return (v) => /^-?\d+$/.test(v);
    case 'decimal':
    case 'double':
    case 'float':
      return isNumber;
    case 'bool':
      return (v) => /^(true|false)$/i.test(v);
    case 'guid':
      return (v) => /^[{(]?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}[)}]?$/i.test(v);
    case 'datetime':
      return (v) => !Number.isNaN(Date.parse(v));
    case 'alpha':
      return (v) => /^[a-z]+$/i.test(v);
    case 'minlength':
      return (v) => v.length >= a;
    case 'maxlength':
      return (v) => v.length <= a;
    case 'length':
      return args.length === 2 ? (v) => v.length >= a && v.length <= b : (v) => v.length === a;
    case 'min':
      return (v) => isNumber(v) && Number(v) >= a;
    case 'max':
      return (v) => isNumber(v) && Number(v) <= a;
    case 'range':
      return (v) => isNumber(v) && Number(v) >= a && Number(v) <= b;
    case 'regex': {
      const re = new RegExp(arg ?? '', 'i');
      return (v) => re.test(v);
    }
    default:
      throw new LocalHostConfigError(`Route "${template}": unsupported route constraint "${spec}".`);
  }
}

function parseParam(body: string, template: string): ParamToken {
  let rest = body;
  const catchAll = rest.startsWith('*');
  if (catchAll) rest = rest.replace(/^\*+/, '');
  let defaultValue: string | undefined;
  const eq = rest.indexOf('=');
  if (eq >= 0) {
    defaultValue = rest.slice(eq + 1);
    rest = rest.slice(0, eq);
  }
  const optional = rest.endsWith('?');
  if (optional) rest = rest.slice(0, -1);
  // Constraints are separated by ':'; regex(...) arguments may contain ':' too.
  const pieces: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of rest) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ':' && depth === 0) {
      pieces.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  pieces.push(current);
  const [name = '', ...specs] = pieces;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new LocalHostConfigError(`Route "${template}": invalid parameter "{${body}}".`);
  }
  return {
    kind: 'param',
    name,
    optional,
    catchAll,
    defaultValue,
    constraints: specs.map((s) => constraintFor(s, template)),
  };
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function parseSegment(text: string, template: string): Segment {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('{', i);
    if (open < 0) {
      tokens.push({ kind: 'literal', text: text.slice(i) });
      break;
    }
    if (open > i) tokens.push({ kind: 'literal', text: text.slice(i, open) });
    let depth = 0;
    let close = -1;
    for (let j = open; j < text.length; j++) {
      if (text[j] === '{') depth++;
      if (text[j] === '}' && --depth === 0) {
        close = j;
        break;
      }
    }
    if (close < 0) throw new LocalHostConfigError(`Route "${template}": unbalanced "{" in "${text}".`);
    tokens.push(parseParam(text.slice(open + 1, close), template));
    i = close + 1;
  }
  const params = tokens.filter((t): t is ParamToken => t.kind === 'param');
  const single = tokens.length === 1 ? tokens[0] : undefined;
  if (tokens.length > 1) {
    if (params.some((p) => p.catchAll || p.optional)) {
      throw new LocalHostConfigError(
        `Route "${template}": optional and catch-all parameters must be a whole segment.`,
      );
    }
    const pattern = tokens.map((t) => (t.kind === 'literal' ? escapeRegex(t.text) : `(.+)`)).join('');
    return { tokens, precedence: 2, regex: new RegExp(`^${pattern}$`, 'i'), params };
  }
  let precedence = 1;
  if (single?.kind === 'param') {
    precedence = single.catchAll ? 5 : single.optional || single.defaultValue !== undefined ? 4 : 3;
    if (single.constraints.length > 0 && precedence === 3) precedence = 2.5;
  }
  return { tokens, precedence, regex: undefined, params };
}

export class RouteTemplate {
  readonly template: string;
  readonly #segments: Segment[];

  constructor(template: string) {
    this.template = template.replace(/^\/+|\/+$/g, '');
    const parts = this.template === '' ? [] : this.template.split('/');
    this.#segments = parts.map((p) => {
      if (p === '') throw new LocalHostConfigError(`Route "${template}": empty segment.`);
      return parseSegment(p, template);
    });
    this.#segments.forEach((segment, index) => {
      const last = index === this.#segments.length - 1;
      for (const param of segment.params) {
        if (param.catchAll && !last) {
          throw new LocalHostConfigError(
            `Route "${template}": a catch-all parameter must be the last segment.`,
          );
        }
      }
    });
    const names = this.#segments.flatMap((s) => s.params.map((p) => p.name.toLowerCase()));
    if (new Set(names).size !== names.length) {
      throw new LocalHostConfigError(`Route "${template}": a parameter name is used twice.`);
    }
  }

  /** Compares by specificity: negative when `this` should be tried before `other`. */
  compare(other: RouteTemplate): number {
    const n = Math.max(this.#segments.length, other.#segments.length);
    for (let i = 0; i < n; i++) {
      const a = this.#segments[i]?.precedence ?? 6;
      const b = other.#segments[i]?.precedence ?? 6;
      if (a !== b) return a - b;
    }
    return 0;
  }

  /** `segments` are the decoded path segments of the request. */
  match(segments: readonly string[]): RouteMatch | undefined {
    const params: Record<string, string> = {};
    let i = 0;
    for (const segment of this.#segments) {
      const value = segments[i];
      const single = segment.tokens.length === 1 ? segment.tokens[0] : undefined;
      if (single?.kind === 'literal') {
        if (value === undefined || value.toLowerCase() !== single.text.toLowerCase()) return undefined;
        i++;
        continue;
      }
      if (single?.kind === 'param') {
        if (single.catchAll) {
          const restValue = segments.slice(i).join('/');
          i = segments.length;
          if (restValue === '') {
            if (single.defaultValue !== undefined) params[single.name] = single.defaultValue;
            continue;
          }
          if (!single.constraints.every((c) => c(restValue))) return undefined;
          params[single.name] = restValue;
          continue;
        }
        if (value === undefined) {
          if (single.defaultValue !== undefined) {
            params[single.name] = single.defaultValue;
            continue;
          }
          if (single.optional) continue;
          return undefined;
        }
        if (!single.constraints.every((c) => c(value))) return undefined;
        params[single.name] = value;
        i++;
        continue;
      }
      // Complex segment, e.g. "{file}.{ext}".
      if (value === undefined) return undefined;
      const m = segment.regex?.exec(value);
      if (!m) return undefined;
      for (const [index, param] of segment.params.entries()) {
        const captured = m[index + 1] ?? '';
        if (!param.constraints.every((c) => c(captured))) return undefined;
        params[param.name] = captured;
      }
      i++;
    }
    return i === segments.length ? { params } : undefined;
  }
}

/**
 * Splits a raw URL path into decoded segments, ignoring one trailing slash. Returns undefined for
 * malformed percent-encoding.
 */
export function splitPath(pathname: string): string[] | undefined {
  const trimmed = pathname.replace(/^\/+/, '').replace(/\/$/, '');
  if (trimmed === '') return [];
  try {
    return trimmed.split('/').map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
}
