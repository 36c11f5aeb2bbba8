import { describe, expect, it } from 'vitest';
import { decodeJobText } from '../shared/jobs/decode.js';

/** The one reading of job text used by every entry point (queue, HTTP, CLI, client). */

const job = { tenantId: 't', recipients: [{ upn: 'a@b.c' }], message: { text: 'héllo €' } };
const json = JSON.stringify(job);
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

describe('decodeJobText', () => {
  it.each([
    ['plain JSON', json, 'json'],
    ['plain JSON with a BOM', `\uFEFF${json}`, 'json'],
    ['plain JSON with a BOM and whitespace', `\uFEFF \n${json}\r\n`, 'json'],
    ['base64 JSON', b64(json), 'base64'],
    ['base64 of BOM + JSON', b64(`\uFEFF${json}`), 'base64'],
    ['BOM + base64 JSON', `\uFEFF${b64(json)}`, 'base64'],
    ['base64 with line breaks', b64(json).replace(/(.{20})/g, '$1\n'), 'base64'],
    ['UTF-8 bytes with a BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]), 'json'],
  ] as const)('reads %s', (_what, input, encoding) => {
    expect(decodeJobText(input)).toMatchObject({ ok: true, value: job, encoding });
  });

  it('gives the decoded text of a base64 message, for the rejection record', () => {
    expect(decodeJobText(b64('{"broken"')).text).toBe('{"broken"');
  });

  it.each([
    ['empty', '', /empty/],
    ['neither', 'hello world', /neither JSON nor base64/],
    ['truncated JSON', '{"tenantId": "t"', /neither JSON nor base64/],
    ['base64 of text', b64('not json'), /base64, but what it encodes is not JSON/],
    ['base64 of non-UTF-8 bytes', Buffer.from([0xff, 0xfe, 0x41, 0x42]).toString('base64'), /not UTF-8/],
  ])('refuses %s with a reason', (_what, input, reason) => {
    const result = decodeJobText(input);
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.errors.join()).toMatch(reason);
  });
});
