import { request as httpRequest } from 'node:http';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { describe, expect, it, onTestFinished } from 'vitest';
import { FUNCTION_KEY, type TestApp } from './support/app.js';
import { useSecureApp } from './support/security.js';
import { handleMessages } from '../functions/messages/handler.js';
import { handlePostNotification } from '../functions/postNotification/handler.js';

/**
 * Issue 6, security: a body too big for the handlers is refused before it is parsed or even read
 * whole, by the host and by the handlers themselves, on the app as security.test.ts runs it
 * (authentication on, a managed identity's token).
 */

let app: TestApp;
useSecureApp((started) => ({ app } = started));

describe('oversized bodies are refused before they are parsed', () => {
  const OVER = 300 * 1024; // over the handlers' 256 KiB, under the host's 1 MiB
  /** Not JSON at all: a 400 would mean the handler parsed it. */
  const unparsable = '{"text": "' + 'x'.repeat(OVER);

  function chunked(text: string): ReadableStream<Uint8Array> {
    const bytes = Buffer.from(text);
    let at = 0;
    return new ReadableStream({
      pull(controller) {
        if (at >= bytes.length) return controller.close();
        controller.enqueue(bytes.subarray(at, (at += 16 * 1024)));
      },
    });
  }

  for (const route of ['messages', 'notifications']) {
    it(`POST /api/${route}: 413 for a big body, with or without a Content-Length`, async () => {
      const headers = { 'content-type': 'application/json', 'x-functions-key': FUNCTION_KEY };
      const sized = await fetch(`${app.url}/api/${route}`, { method: 'POST', headers, body: unparsable });
      expect(sized.status).toBe(413);
      const streamed = await fetch(`${app.url}/api/${route}`, {
        method: 'POST',
        headers,
        body: chunked(unparsable),
        duplex: 'half',
      } as RequestInit);
      expect(streamed.status).toBe(413);
    });

    it(`POST /api/${route}: 413 at once for a huge declared length whose body never ends`, async () => {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${app.url}/api/${route}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': String(10 * 1024 ** 3),
            'x-functions-key': FUNCTION_KEY,
          },
        });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        });
        req.on('error', reject);
        req.write('{"type": "message", "text": "');
        // ...and nothing more: an answer can only come from the declared length.
      });
      expect(status).toBe(413);
    });
  }

  it('the handlers themselves refuse a streamed body at the limit, or at once by its length (the real host streams it)', async () => {
    // The handlers run here, in this process, with the app's settings (the host gives them to its worker).
    const saved = Object.fromEntries(Object.keys(app.env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, app.env);
    onTestFinished(() => {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    });
    for (const handler of [handleMessages, handlePostNotification]) {
      for (const declared of [undefined, String(10 * 1024 ** 3)]) {
        let pulled = 0;
        const endless = new ReadableStream<Uint8Array>({
          async pull(controller) {
            pulled += 1;
            // Endless as far as a reader can tell; bounded so a handler that reads it all fails, not hangs.
            if (pulled > 200) return controller.error(new Error('the handler read 12 MB'));
            await new Promise((resolve) => setImmediate(resolve));
            controller.enqueue(new Uint8Array(64 * 1024).fill(0x78));
          },
        });
        const headers = new Headers({ 'content-type': 'application/json', 'x-functions-key': FUNCTION_KEY });
        if (declared) headers.set('content-length', declared);
        const request = new HttpRequest({
          nativeRequest: new Request('http://localhost/api/x', {
            method: 'POST',
            body: endless,
            duplex: 'half',
            headers,
          } as RequestInit),
        } as unknown as ConstructorParameters<typeof HttpRequest>[0]);
        expect(request.headers.get('content-length')).toBe(declared ?? null);
        const res = await handler(request, new InvocationContext());
        expect(res.status).toBe(413);
        // 256 KiB is four or five chunks; with a declared length nothing at all is read.
        expect(pulled).toBeLessThanOrEqual(declared ? 1 : 6);
      }
    }
  });
});
