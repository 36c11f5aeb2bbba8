/**
 * Reads a job's text the way producers actually write it. The Storage SDKs for .NET, Python and
 * JavaScript put text on the queue as-is by default, older SDKs and some tools base64 it,
 * and Windows tools like to start files with a UTF-8 byte order mark. Every entry point (queue,
 * HTTP, CLI, client) reads jobs through this one function, so none accepts what another refuses.
 */

/** `text` is the job as a person would read it: what the base64 encoded, else the input. */
type DecodedJob =
  | { ok: true; value: unknown; encoding: 'json' | 'base64'; text: string }
  | { ok: false; errors: string[]; text: string };

const BOM = '\uFEFF';
/** JSON's own whitespace; a BOM is not whitespace to JSON, so it is stripped separately. */
const JSON_SPACE = /^[ \t\r\n]+|[ \t\r\n]+$/g;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function stripBom(text: string): string {
  return text.startsWith(BOM) ? text.slice(1) : text;
}

/** Strict base64 (as .NET's Convert.FromBase64String, which ignores whitespace): bytes or undefined. */
function base64Bytes(text: string): Buffer | undefined {
  const compact = text.replace(/[ \t\r\n]/g, '');
  if (compact.length === 0 || compact.length % 4 !== 0 || !BASE64.test(compact)) return undefined;
  return Buffer.from(compact, 'base64');
}

function parse(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** Plain JSON or base64 of JSON, either with or without a UTF-8 BOM (before or inside the base64). */
export function decodeJobText(raw: string | Uint8Array): DecodedJob {
  const text = stripBom(typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8')).replace(
    JSON_SPACE,
    '',
  );
  if (text === '') return { ok: false, errors: ['the message is empty'], text };
  // JSON first: base64 text is never valid JSON that could be a job (it has no braces or quotes).
  const json = parse(text);
  if (json.ok) return { ok: true, value: json.value, encoding: 'json', text };
  const bytes = base64Bytes(text);
  if (!bytes)
    return {
      ok: false,
      errors: [`the message is neither JSON nor base64-encoded JSON: ${json.error}`],
      text,
    };
  let inner: string;
  try {
    inner = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return { ok: false, errors: ['the message is base64, but what it encodes is not UTF-8 text'], text };
  }
  const decoded = parse(stripBom(inner).replace(JSON_SPACE, ''));
  return decoded.ok
    ? { ok: true, value: decoded.value, encoding: 'base64', text: inner }
    : {
        ok: false,
        errors: [`the message is base64, but what it encodes is not JSON: ${decoded.error}`],
        text: inner,
      };
}
