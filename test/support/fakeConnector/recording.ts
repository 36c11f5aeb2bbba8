/** What the Teams-like fake connector records for assertions: every call, answers by status, faults by kind. */
import type { IncomingHttpHeaders } from 'node:http';
import type { ConnectorRequest, Route } from './routes.js';

export interface CallRecord {
  seq: number;
  /** Arrival, ms since epoch. */
  at: number;
  method: string;
  path: string;
  route: Route;
  conversationId?: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  /** 0 while pending, and for dropped connections. */
  status: number;
  /** Why it did not get the normal answer. */
  fault?: 'script' | 'random' | 'throttle' | 'auth';
}

export interface Recording {
  /** Replaced (not emptied) by reset(), like the counters, so what a test still holds stays as it was. */
  calls: CallRecord[];
  byStatus: Record<number, number>;
  faults: Record<string, number>;
  /** A record of this request, kept in `calls` unless recording calls is off. */
  arrived(request: ConnectorRequest): CallRecord;
  /** Counts an answer (0 = connection dropped) and sets it on the record. */
  answered(record: CallRecord, status: number): void;
  countFault(kind: string): void;
  reset(): void;
}

export function createRecording(recordCalls: boolean): Recording {
  let seq = 0;
  const recording: Recording = {
    calls: [],
    byStatus: {},
    faults: {},
    arrived(request) {
      const record: CallRecord = { seq: ++seq, at: Date.now(), ...request, status: 0 };
      if (recordCalls) recording.calls.push(record);
      return record;
    },
    answered(record, status) {
      record.status = status;
      recording.byStatus[status] = (recording.byStatus[status] ?? 0) + 1;
    },
    countFault(kind) {
      recording.faults[kind] = (recording.faults[kind] ?? 0) + 1;
    },
    reset() {
      recording.calls = [];
      recording.byStatus = {};
      recording.faults = {};
    },
  };
  return recording;
}
