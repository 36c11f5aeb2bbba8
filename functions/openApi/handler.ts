import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { openApiDocument } from '../../shared/api/openapi.js';

/** The document, its server URL this app's as the caller reached it (a generated client's default endpoint). */
export async function handleOpenApi(request: HttpRequest): Promise<HttpResponseInit> {
  return {
    status: 200,
    body: JSON.stringify(openApiDocument(new URL(request.url).origin)),
    headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' },
  };
}
