import { pino } from 'pino';

// Structured logs of the agent and the collector: one JSON object per line on stderr (pino), or
// the same records as short text lines for a terminal. The logger is made once per process by
// the CLI and passed down; components that are not given one log nothing.
//
// What is logged is chosen at each call site, never copied from a request: no header, cookie,
// query string or event payload value ever reaches a log line (test/integration/faults-logs).

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Fields of a log record: names and counts, never request or payload values. */
export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined | object>>;

export interface LogFn {
  (msg: string): void;
  (fields: LogFields, msg: string): void;
}

/** The logging seam: pino's Logger satisfies it; tests may pass their own. */
export interface Logger {
  readonly debug: LogFn;
  readonly info: LogFn;
  readonly warn: LogFn;
  readonly error: LogFn;
}

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** Component name in every record (`agent`, `collector`). */
  readonly name: string;
  /** Where lines go; stderr (fd 2) by default, written synchronously so a last line survives exit. */
  readonly write?: (line: string) => void;
}

/** A logger that drops everything: the default when none is injected. */
export const SILENT_LOGGER: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

const BASE_FIELDS = new Set(['level', 'time', 'msg', 'name', 'pid', 'hostname']);

/** One pino JSON record as `<iso time> <LEVEL> <name>: <msg> key=value …`. */
export function formatTextLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = String(rec.level ?? '').toUpperCase();
  const extra = Object.entries(rec)
    .filter(([k]) => !BASE_FIELDS.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${String(rec.time ?? '')} ${level} ${String(rec.name ?? '')}: ${String(rec.msg ?? '')}${extra ? ` ${extra}` : ''}\n`;
}

/** A pino logger writing JSON lines (or text lines) to stderr; no worker thread, no transport. */
export function createLogger(options: LoggerOptions): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const stream =
    options.format === 'text'
      ? { write: (line: string) => write(formatTextLine(line)) }
      : options.write
        ? { write }
        : pino.destination({ fd: 2, sync: true });
  return pino(
    {
      name: options.name,
      level: options.level,
      base: { name: options.name },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}

export const LOG_DEFAULTS = { level: 'info', format: 'json' } as const satisfies {
  level: LogLevel;
  format: LogFormat;
};

/** `--log-level`: one of LOG_LEVELS, case-insensitive; undefined when it is not one. */
export function parseLogLevel(value: string): LogLevel | undefined {
  const v = value.trim().toLowerCase();
  return (LOG_LEVELS as readonly string[]).includes(v) ? (v as LogLevel) : undefined;
}

/** `--log-format`: json or text; undefined otherwise. */
export function parseLogFormat(value: string): LogFormat | undefined {
  const v = value.trim().toLowerCase();
  return (LOG_FORMATS as readonly string[]).includes(v) ? (v as LogFormat) : undefined;
}
