/** The soak's options, their defaults, and the report it writes (bench/soak.ts runs it). */
export interface SoakFaults {
  p5xx: number;
  p429WithRetryAfter: number;
  p429NoRetryAfter: number;
  pTimeout: number;
  p403: number;
  p404: number;
}

export interface SoakOptions {
  /** Deliveries (job × recipient) to push. */
  deliveries: number;
  tenants: number;
  /** Multiplies Teams' rate limits (50/s per tenant, 7/s per conversation), for the connector and the app. */
  timeScale: number;
  /** SIGKILLs of the host (each followed by a restart). */
  kills: number;
  /**
   * Restarts of the app's language worker as at a function timeout (SIGUSR2 to the local host):
   * every invocation running on it dies, and its message comes back after visibilityTimeout.
   */
  workerRestarts: number;
  azuriteRestarts: number;
  seed: number;
  faults: SoakFaults;
  /** The app's CONNECTOR_TIMEOUT_MS; the fake's timeouts hang 1 s longer, then drop the connection. */
  connectorTimeoutMs: number;
  /** Share of deliveries in single-recipient jobs; the rest in jobs of 2 to maxJobSize recipients. */
  singleShare: number;
  maxJobSize: number;
  /** Share of users with no stored 1:1 chat (the first delivery opens it). */
  firstContactShare: number;
  /** LOCAL_HOST_QUEUE_LEASE_MS: how soon the messages a killed host held come back. */
  queueLeaseMs: number;
  /** host.json overrides (undefined: host.json's own values). */
  visibilityTimeoutMs?: number | undefined;
  maxPollingIntervalMs?: number | undefined;
  /** Give up waiting for quiescence after this long. Default: 10 × the optimum + 5 min. */
  quiescenceTimeoutMs?: number | undefined;
  /** Keep the Azurite workspace and host log (printed). */
  keepData: boolean;
  /** The host's log level: `Information` adds a line per delivery saying where its time went. */
  hostLogLevel: string;
  log: (line: string) => void;
}

export const DEFAULT_FAULTS: SoakFaults = {
  p5xx: 0.05,
  p429WithRetryAfter: 0.02,
  p429NoRetryAfter: 0.01,
  pTimeout: 0.01,
  p403: 0.002,
  p404: 0.003,
};

export const DEFAULT_OPTIONS: SoakOptions = {
  deliveries: 10_000,
  tenants: 2,
  timeScale: 1,
  kills: 1,
  workerRestarts: 2,
  azuriteRestarts: 1,
  seed: 1,
  faults: DEFAULT_FAULTS,
  connectorTimeoutMs: 2000,
  singleShare: 0.2,
  maxJobSize: 60,
  firstContactShare: 0.3,
  queueLeaseMs: 30_000,
  keepData: false,
  hostLogLevel: 'Warning',
  log: (line) => console.log(line),
};

export const TEAMS_TENANT_RATE = 50;
export const TEAMS_CONVERSATION_RATE = 7;
export const BOT_ID = '28:00000000-0000-0000-0000-0000000050a6';
export const MARKER = 'soak-job:';

export interface DeliveryIssue {
  jobId: string;
  recipient: string;
  accepted: number[];
  record?: { status: string; reason?: string; claimedAt?: string; attempts: number } | undefined;
  why: string;
}

export interface SoakEvent {
  kind: 'host-sigkill' | 'worker-restart' | 'azurite-restart';
  /** Share of expected deliveries accepted by Teams when it fired. */
  atProgress: number;
  at: number;
  /**
   * When the killed host's exit (or the killed worker's restart) was seen, and what it had sent had
   * reached the connector (a SIGKILL takes a moment to land on a loaded machine: the host may still
   * send until then); for an Azurite restart, `at`.
   */
  downAt: number;
  /** Until the host (or its worker) was ready / Azurite listened again. */
  backAt: number;
}

export interface SoakReport {
  options: Omit<SoakOptions, 'log'>;
  date: string;
  machine: {
    node: string;
    cpu: string;
    cores: number;
    memoryGiB: number;
    platform: string;
    /** 1-minute load average when the run started and ended (other work on the machine slows the soak). */
    loadAverage: [number, number];
  };
  jobs: { total: number; single: number; multi: number };
  users: { perTenant: number; withChat: number; firstContact: number };
  expected: number;
  exactlyOnce: number;
  duplicates: { total: number; explained: number; unexplained: DeliveryIssue[] };
  /** Teams has it once but the record says otherwise, or records a different activity. */
  mismatched: { total: number; explained: number; unexplained: DeliveryIssue[] };
  lost: DeliveryIssue[];
  failed: { total: number; byReason: Record<string, number> };
  skipped: { total: number; byReason: Record<string, number> };
  poisoned: { deliveries: number; jobs: number };
  events: SoakEvent[];
  connector: { calls: number; byStatus: Record<number, number>; faults: Record<string, number> };
  timing: {
    elapsedMs: number;
    optimumMs: number;
    faultFreeCalls: number;
    ratio: number;
    /** CPU seconds per second of the run (1.0 = one core busy), summed over restarts. */
    azuriteCpuShare: number;
    hostCpuShare: number;
    tenantLimitPerSecond: number;
    conversationLimitPerSecond: number;
  };
  quiescent: boolean;
  workDir?: string | undefined;
  /** Why the soak failed; empty when it passed. */
  problems: string[];
}
