import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

/**
 * The exporter always sends over HTTPS (it rewrites http:// endpoints), so the receiver uses a
 * throwaway self-signed certificate for 127.0.0.1 (made with openssl), which the app's process is
 * told to trust through NODE_EXTRA_CA_CERTS (`caFile`).
 */
function selfSignedCertificate(): { key: Buffer; cert: Buffer; caFile: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'ingestion-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(key), cert: readFileSync(cert), caFile: cert };
}

/**
 * A stand-in for the Application Insights ingestion endpoint on 127.0.0.1: accepts what the Azure
 * Monitor exporter POSTs (`/v2.1/track`, a gzip-encoded JSON array of envelopes; newline-delimited
 * JSON is accepted too) and keeps every envelope and every raw body for assertions.
 */

export interface Envelope {
  name: string;
  time: string;
  iKey?: string;
  tags?: Record<string, string>;
  data?: { baseType?: string; baseData?: Record<string, unknown> };
}

export interface Ingestion {
  /** For APPLICATIONINSIGHTS_CONNECTION_STRING. */
  connectionString: string;
  url: string;
  /** The receiver's certificate: give it to the app as NODE_EXTRA_CA_CERTS. */
  caFile: string;
  envelopes: Envelope[];
  /** Every request body as decoded text, to scan for what must never be sent. */
  bodies: string[];
  paths: string[];
  stop(): Promise<void>;
}

export const INSTRUMENTATION_KEY = '00000000-1111-2222-3333-444444444444';

function parse(text: string): Envelope[] {
  const trimmed = text.trim();
  if (!trimmed) return [];
  if (trimmed.startsWith('[')) return JSON.parse(trimmed) as Envelope[];
  return trimmed.split('\n').map((line) => JSON.parse(line) as Envelope);
}

export async function startIngestion(): Promise<Ingestion> {
  const envelopes: Envelope[] = [];
  const bodies: string[] = [];
  const paths: string[] = [];
  const tls = selfSignedCertificate();
  const server: Server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      const text = raw.toString('utf8');
      bodies.push(text);
      paths.push(req.url ?? '');
      let items: Envelope[] = [];
      try {
        items = req.method === 'POST' ? parse(text) : [];
      } catch {
        res.writeHead(400).end();
        return;
      }
      envelopes.push(...items);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ itemsReceived: items.length, itemsAccepted: items.length, errors: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    connectionString: `InstrumentationKey=${INSTRUMENTATION_KEY};IngestionEndpoint=${url};LiveEndpoint=${url}`,
    url,
    caFile: tls.caFile,
    envelopes,
    bodies,
    paths,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The settings that point the app's telemetry at `ingestion`: its connection string, its certificate
 * to trust, and nothing sent to Microsoft's own endpoints (statsbeat, live metrics) from a test.
 */
export function telemetrySettings(ingestion: Ingestion): Record<string, string> {
  return {
    APPLICATIONINSIGHTS_CONNECTION_STRING: ingestion.connectionString,
    NODE_EXTRA_CA_CERTS: ingestion.caFile,
    APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true',
    TELEMETRY_LIVE_METRICS: 'false',
  };
}

/** Custom events by name, with their properties and measurements. */
export function customEvents(envelopes: Envelope[], name?: string) {
  return envelopes
    .filter((e) => e.data?.baseType === 'EventData')
    .map((e) => ({
      name: String(e.data?.baseData?.name),
      properties: (e.data?.baseData?.properties ?? {}) as Record<string, string>,
      measurements: (e.data?.baseData?.measurements ?? {}) as Record<string, number>,
      operationId: e.tags?.['ai.operation.id'],
      parentId: e.tags?.['ai.operation.parentId'],
    }))
    .filter((e) => name === undefined || e.name === name);
}

export function customMetrics(envelopes: Envelope[], name: string) {
  return envelopes
    .filter((e) => e.data?.baseType === 'MetricData')
    .flatMap((e) => {
      const data = e.data?.baseData as {
        metrics: { name: string; value: number; count?: number }[];
        properties?: Record<string, string>;
      };
      return data.metrics.map((m) => ({ ...m, properties: data.properties ?? {} }));
    })
    .filter((m) => m.name === name);
}

export function dependencies(envelopes: Envelope[]) {
  return envelopes
    .filter((e) => e.data?.baseType === 'RemoteDependencyData')
    .map((e) => ({
      ...(e.data?.baseData as {
        id: string;
        name: string;
        resultCode: string;
        success: boolean;
        target?: string;
        type: string;
      }),
      operationId: e.tags?.['ai.operation.id'],
      parentId: e.tags?.['ai.operation.parentId'],
    }));
}

export function requests(envelopes: Envelope[]) {
  return envelopes
    .filter((e) => e.data?.baseType === 'RequestData')
    .map((e) => ({
      ...(e.data?.baseData as {
        id: string;
        name: string;
        success: boolean;
        properties?: Record<string, string>;
      }),
      operationId: e.tags?.['ai.operation.id'],
      parentId: e.tags?.['ai.operation.parentId'],
    }));
}
