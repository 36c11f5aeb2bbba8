import type { TableClient, TableEntityResult } from '@azure/data-tables';

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

/** The OData filter for the rows of one partition whose RowKey starts with `prefix`. */
export function prefixFilter(partitionKey: string, prefix: string): string {
  const quoted = (v: string) => `'${v.replace(/'/g, "''")}'`;
  // Key parts are URI-encoded, so '~' sorts after every character a key can hold.
  return `PartitionKey eq ${quoted(partitionKey)} and RowKey ge ${quoted(prefix)} and RowKey lt ${quoted(`${prefix}~`)}`;
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

/** Row keys may not hold / \ # ? or control characters; encoding keeps any ID safe and sortable. */
export function keyPart(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*~]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
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
