/**
 * What the local host and its language worker (worker.ts, a child process) say to each other over
 * Node's IPC channel: the worker loads the app and runs invocations; the host owns HTTP, the queues,
 * keys, logs and the function timeout, and restarts the worker as the Functions host does.
 */
import type { CoreFunctionMetadata } from './coreApi.js';
import type { LogLevel, LogRecord } from './logger.js';

/**
 * How the worker is started: the app root, the log level below which it sends nothing, and whether
 * the app may load modules only from its root (confine.ts).
 */
export interface WorkerInit {
  root: string;
  minLogLevel: LogLevel | 'none';
  confineModules: boolean;
}

export interface WireHttpRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  params: Record<string, string>;
  body?: Uint8Array | undefined;
  traceParent?: string | undefined;
  traceState?: string | undefined;
}

/** An HTTP function's answer, buffered: status, headers, Set-Cookie values and body bytes. */
export interface WireHttpResponse {
  status: number;
  headers: [string, string][];
  cookies: string[];
  body?: Uint8Array | undefined;
}

export type HostToWorker =
  | { t: 'start' }
  | {
      t: 'invoke';
      id: string;
      fn: string;
      reason: string;
      http?: WireHttpRequest;
      queue?: { input: unknown; triggerMetadata: Record<string, unknown> };
    }
  | { t: 'terminate' };

export type WorkerToHost =
  | { t: 'loaded'; functions: CoreFunctionMetadata[] }
  | { t: 'load-failed'; message: string }
  | { t: 'started' }
  | { t: 'start-failed'; message: string }
  | { t: 'logs'; records: LogRecord[] }
  | { t: 'result'; id: string; ok: true; http?: WireHttpResponse | undefined }
  | { t: 'result'; id: string; ok: false; error: string }
  | { t: 'terminated' };
