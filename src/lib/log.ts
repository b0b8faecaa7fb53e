/**
 * One structured line per event, to stdout (the journal picks it up under systemd).
 * Format: JSON with `ts`, `level`, `svc`, `event` and the event's own fields.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
  child(svc: string): Logger;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(svc: string, options: { write?: (line: string) => void; level?: LogLevel } = {}): Logger {
  const write = options.write ?? ((line: string) => process.stdout.write(line + '\n'));
  const min = order[options.level ?? (process.env.SBD_LOG_LEVEL as LogLevel | undefined) ?? 'info'] ?? 20;
  const log = (level: LogLevel, event: string, fields?: Record<string, unknown>): void => {
    if (order[level] < min) return;
    write(JSON.stringify({ ts: new Date().toISOString(), level, svc, event, ...fields }, replacer));
  };
  return {
    log,
    info: (e, f) => log('info', e, f),
    warn: (e, f) => log('warn', e, f),
    error: (e, f) => log('error', e, f),
    child: (sub) => createLogger(`${svc}.${sub}`, options),
  };
}

/** A logger that drops everything (tests and library use). */
export const silentLogger: Logger = createLogger('silent', { write: () => {} });

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  if (Buffer.isBuffer(value)) return value.toString('hex');
  return value;
}
