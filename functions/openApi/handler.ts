import type { HttpResponseInit } from '@azure/functions';
import { openApiDocument } from '../../shared/api/openapi.js';

let document: string | undefined;

export async function handleOpenApi(): Promise<HttpResponseInit> {
  document ??= JSON.stringify(openApiDocument());
  return {
    status: 200,
    body: document,
    headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' },
  };
}
