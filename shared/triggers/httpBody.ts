import type { HttpRequest } from '@azure/functions';

/**
 * Reads a request body of at most `limit` bytes. A declared Content-Length over the limit is refused
 * before anything is read; otherwise reading stops at the first byte past the limit, so a chunked or
 * streamed body (the Functions host can stream request bodies) is never buffered or parsed in full.
 */
export async function readLimitedBody(
  request: HttpRequest,
  limit: number,
): Promise<{ ok: true; text: string } | { ok: false }> {
  const declared = Number(request.headers.get('content-length') ?? 0);
  if (!(declared <= limit)) return { ok: false };
  const body = request.body;
  if (!body) return { ok: true, text: '' };
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return { ok: false };
    }
    chunks.push(value);
  }
  return { ok: true, text: Buffer.concat(chunks).toString('utf8') };
}
