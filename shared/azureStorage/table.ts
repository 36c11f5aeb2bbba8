import { createHash } from 'node:crypto';
import type { TableClient, TableEntity, TableEntityResult } from '@azure/data-tables';

/** A table that is created on first use, once per process. */
export class LazyTable {
  private ready: Promise<void> | undefined;

  constructor(private readonly raw: TableClient) {}

  async client(): Promise<TableClient> {
    // createTable answers success when the table already exists. A read-only identity (an
    // operator's `npm run status`) may not create tables; the infra made them, so go on.
    this.ready ??= this.raw.createTable().catch((err: unknown) => {
      if (statusOf(err) === 403) return;
      this.ready = undefined;
      throw err;
    });
    await this.ready;
    return this.raw;
  }

  get name(): string {
    return this.raw.tableName;
  }
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

export const isNotFound = (err: unknown) => statusOf(err) === 404;
export const isConflict = (err: unknown) => statusOf(err) === 409;
export const isPreconditionFailed = (err: unknown) => statusOf(err) === 412;

/** Merges `entity` only if the row still has `etag`: the new ETag, or undefined when someone else wrote first. */
export async function mergeIfUnchanged(
  table: TableClient,
  entity: TableEntity,
  etag: string,
): Promise<string | undefined> {
  try {
    return (await table.updateEntity(entity, 'Merge', { etag })).etag ?? '';
  } catch (err) {
    if (isPreconditionFailed(err)) return undefined;
    throw err;
  }
}

/** No answer (connection refused, reset, timeout), or storage's own 408/429/5xx: worth waiting out. */
export function isTransient(err: unknown): boolean {
  const status = statusOf(err);
  if (status === undefined) return (err as { name?: unknown } | null)?.name === 'RestError';
  return status === 408 || status === 429 || status >= 500;
}

export async function getOrUndefined<T extends object>(
  table: TableClient,
  partitionKey: string,
  rowKey: string,
): Promise<TableEntityResult<T> | undefined> {
  try {
    return await table.getEntity<T>(partitionKey, rowKey);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

const quote = (v: string) => `'${v.replace(/'/g, "''")}'`;

/** The filter of a range read: one partition, RowKeys starting with `prefix`, and an optional extra clause. */
export function prefixFilter(partitionKey: string, prefix: string, extra?: string): string {
  // Key parts are URI-encoded, so '~' sorts after every character a key can hold.
  const range = `PartitionKey eq ${quote(partitionKey)} and RowKey ge ${quote(prefix)} and RowKey lt ${quote(`${prefix}~`)}`;
  return extra ? `${range} and ${extra}` : range;
}

/** One page of a range read, and the token of the next (for reads resumed from a checkpoint). */
export async function pageByPrefix<T extends object>(
  table: TableClient,
  o: {
    partitionKey: string;
    prefix: string;
    size: number;
    token?: string | undefined;
    extra?: string;
    select?: string[];
  },
): Promise<{ rows: T[]; token?: string | undefined }> {
  const pages = table
    .listEntities<T>({
      queryOptions: {
        filter: prefixFilter(o.partitionKey, o.prefix, o.extra),
        ...(o.select ? { select: o.select } : {}),
      },
    })
    .byPage({ maxPageSize: o.size, ...(o.token ? { continuationToken: o.token } : {}) });
  const first = await pages.next();
  if (first.done) return { rows: [] };
  return { rows: [...first.value], token: first.value.continuationToken || undefined };
}

/** Rows of one partition whose RowKey starts with `prefix`: a range read, never a table scan. */
export async function listByPrefix<T extends object>(
  table: TableClient,
  partitionKey: string,
  prefix: string,
  select?: string[],
): Promise<T[]> {
  const rows = table.listEntities<T>({
    queryOptions: { filter: prefixFilter(partitionKey, prefix), ...(select ? { select } : {}) },
  });
  const out: T[] = [];
  for await (const row of rows) out.push(row);
  return out;
}

/**
 * The longest a key part is kept readable. Table Storage keys hold "up to 1 KiB" and none of
 * `/ \ # ?` or control characters ("Understanding the Table service data model",
 * learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model); a key is
 * UTF-16, so 512 characters, which is also Azurite's limit. Two parts and a prefix stay well inside.
 */
export const MAX_KEY_PART = 200;

/**
 * One ID as part of a key: URI-encoded, so it holds none of the characters keys may not hold, and
 * sorts and compares as the ID does. An ID longer than MAX_KEY_PART encoded (a contract-valid 256
 * characters can encode to 768) is its SHA-256 instead, marked `!` (which the encoding never leaves),
 * so every key fits whatever the ID: the same ID always makes the same key part.
 */
export function keyPart(value: string): string {
  const encoded = encodeURIComponent(value).replace(
    /[!'()*~]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  if (encoded.length <= MAX_KEY_PART) return encoded;
  return `!${createHash('sha256').update(value).digest('base64url')}`;
}

/** Table properties hold at most 32K UTF-16 characters; longer JSON is split over numbered properties. */
const CHUNK = 30_000;

export function packJson(name: string, value: unknown): Record<string, string> {
  const json = JSON.stringify(value);
  const out: Record<string, string> = {};
  for (let i = 0, n = 0; i < json.length || n === 0; i += CHUNK, n++) {
    out[`${name}${n}`] = json.slice(i, i + CHUNK);
  }
  return out;
}

export function unpackJson<T>(entity: Record<string, unknown>, name: string): T | undefined {
  let json = '';
  for (let n = 0; typeof entity[`${name}${n}`] === 'string'; n++) json += entity[`${name}${n}`] as string;
  return json ? (JSON.parse(json) as T) : undefined;
}
