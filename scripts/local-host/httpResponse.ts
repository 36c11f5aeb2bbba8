/**
 * In the worker: an HTTP function's result (`HttpResponseInit` or `HttpResponse`, as the Node.js
 * worker accepts them) turned into plain data for the host to send: status, headers, cookies, body.
 */
import { Readable } from 'node:stream';
import type * as azf from '@azure/functions';
import type { WireHttpResponse } from './ipc.js';

type AzureFunctionsModule = typeof azf;

function serializeCookie(cookie: azf.Cookie): string {
  let out = `${cookie.name}=${cookie.value}`;
  if (cookie.domain) out += `; Domain=${cookie.domain}`;
  if (cookie.path) out += `; Path=${cookie.path}`;
  if (cookie.expires !== undefined) {
    const expires = cookie.expires instanceof Date ? cookie.expires : new Date(cookie.expires);
    out += `; Expires=${expires.toUTCString()}`;
  }
  if (cookie.maxAge !== undefined) out += `; Max-Age=${cookie.maxAge}`;
  if (cookie.secure) out += '; Secure';
  if (cookie.httpOnly) out += '; HttpOnly';
  if (cookie.sameSite) out += `; SameSite=${cookie.sameSite}`;
  return out;
}

function isStreamBody(body: unknown): boolean {
  if (body === null || typeof body !== 'object') return false;
  if (body instanceof ReadableStream || body instanceof Readable) return true;
  return Symbol.asyncIterator in body;
}

/** No result → 204; anything but an object is refused as the worker refuses it. */
export async function toWireResponse(
  azf: AzureFunctionsModule,
  result: unknown,
  method: string,
): Promise<WireHttpResponse> {
  if (result === undefined || result === null) return { status: 204, headers: [], cookies: [] };
  if (typeof result !== 'object') {
    throw new TypeError(
      'The HTTP response must be an object with optional properties "body", "status", "headers", "cookies" and "jsonBody".',
    );
  }
  const isResponse = result instanceof azf.HttpResponse;
  const response = isResponse ? result : new azf.HttpResponse(result as azf.HttpResponseInit);
  const streaming = isResponse || isStreamBody((result as azf.HttpResponseInit).body);
  const headers: [string, string][] = [];
  for (const [name, value] of response.headers) {
    if (name.toLowerCase() !== 'set-cookie') headers.push([name, value]);
  }
  const cookies = [...response.headers.getSetCookie(), ...response.cookies.map(serializeCookie)];
  const noBody = method === 'HEAD' || [204, 205, 304].includes(response.status) || response.body === null;
  const body = noBody ? undefined : new Uint8Array(await response.arrayBuffer());
  // A buffered body gets its length; a streamed one (HttpResponse, stream bodies) goes out chunked.
  if ((!streaming || noBody) && ![204, 304].includes(response.status)) {
    headers.push(['content-length', String(body?.length ?? 0)]);
  }
  return { status: response.status, headers, cookies, body };
}
