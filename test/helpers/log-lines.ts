import type { Readable } from 'node:stream';

// The JSON log lines a child process writes on stderr (lib/log.ts), collected as they arrive.

export interface LogRecord {
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface LogCapture {
  /** Everything written so far, raw. */
  text(): string;
  /** The lines that parse as JSON records. */
  records(): LogRecord[];
  /** The first record whose msg contains `part`. */
  find(part: string): LogRecord | undefined;
}

export function captureLog(stream: Readable | null | undefined): LogCapture {
  let raw = '';
  stream?.on('data', (c: Buffer) => {
    raw += c.toString();
  });
  const records = (): LogRecord[] =>
    raw
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogRecord);
  return {
    text: () => raw,
    records,
    find: (part) => records().find((r) => r.msg.includes(part)),
  };
}

/** Records written through a `write` function (an in-process logger). */
export function lineSink(): { write: (line: string) => void; capture: LogCapture } {
  let raw = '';
  const records = (): LogRecord[] =>
    raw
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogRecord);
  return {
    write: (line) => {
      raw += line;
    },
    capture: { text: () => raw, records, find: (part) => records().find((r) => r.msg.includes(part)) },
  };
}
