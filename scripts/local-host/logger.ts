/**
 * Logging for the local host: one record type for host, system and user (context.log) messages.
 * The default sink prints one line per record to the console; tests pass their own sink.
 */

export type LogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical';

export interface LogRecord {
  level: LogLevel;
  /** `host`: the local host itself; `system`: @azure/functions internals; `user`: context.log & co. */
  category: 'host' | 'system' | 'user';
  message: string;
  functionName?: string;
  /** Invocation id, also used as the request id of HTTP requests. */
  invocationId?: string;
}

export type LogSink = (record: LogRecord) => void;

const levelRank: Record<LogLevel | 'none', number> = {
  trace: 0,
  debug: 1,
  information: 2,
  warning: 3,
  error: 4,
  critical: 5,
  none: 6,
};

/** Maps host.json level names ("Information", "Warning", ...) and our own names to a level. */
export function parseLogLevel(value: unknown): LogLevel | 'none' | undefined {
  if (typeof value !== 'string') return undefined;
  const lower = value.trim().toLowerCase();
  if (lower === 'info') return 'information';
  if (lower === 'warn') return 'warning';
  return lower in levelRank ? (lower as LogLevel | 'none') : undefined;
}

const levelLabel: Record<LogLevel, string> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  information: 'INFO ',
  warning: 'WARN ',
  error: 'ERROR',
  critical: 'CRIT ',
};

export function consoleSink(record: LogRecord): void {
  const parts = [new Date().toISOString(), levelLabel[record.level]];
  if (record.functionName) parts.push(`[${record.functionName}]`);
  if (record.invocationId) parts.push(`(${record.invocationId})`);
  parts.push(record.message);
  const line = parts.join(' ');
  if (levelRank[record.level] >= levelRank.warning) {
    console.error(line);
  } else {
    console.log(line);
  }
}

export interface Logger {
  log(
    level: LogLevel,
    message: string,
    extra?: Partial<Pick<LogRecord, 'category' | 'functionName' | 'invocationId'>>,
  ): void;
  debug(message: string, extra?: Partial<LogRecord>): void;
  info(message: string, extra?: Partial<LogRecord>): void;
  warn(message: string, extra?: Partial<LogRecord>): void;
  error(message: string, extra?: Partial<LogRecord>): void;
  /**
   * Starts noting whether the function logs a line of its own (information or above) for this
   * invocation; `stopWatching` says whether it did. Lets the HTTP server keep its request line
   * out of the way when the function already said what happened.
   */
  watch(invocationId: string): void;
  stopWatching(invocationId: string): boolean;
}

export function createLogger(sink: LogSink, minLevel: LogLevel | 'none' = 'information'): Logger {
  const min = levelRank[minLevel];
  const watched = new Map<string, boolean>();
  const log: Logger['log'] = (level, message, extra) => {
    const id = extra?.invocationId;
    if (id && extra.category === 'user' && levelRank[level] >= levelRank.information && watched.has(id)) {
      watched.set(id, true);
    }
    if (levelRank[level] < min) return;
    try {
      sink({ category: 'host', ...extra, level, message });
    } catch {
      // A failing sink must never break an invocation.
    }
  };
  return {
    log,
    debug: (message, extra) => log('debug', message, extra),
    info: (message, extra) => log('information', message, extra),
    warn: (message, extra) => log('warning', message, extra),
    error: (message, extra) => log('error', message, extra),
    watch: (id) => void watched.set(id, false),
    stopWatching: (id) => {
      const spoke = watched.get(id) ?? false;
      watched.delete(id);
      return spoke;
    },
  };
}

/** Message plus stack (when there is one) of anything thrown. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  return String(err);
}
