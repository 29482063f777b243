import { InvalidArgumentError } from 'commander';

// Option value parsers: each rejects a bad value with a message commander prints on one line.

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n <= 0) {
    throw new InvalidArgumentError(`expected a positive whole number, got ${JSON.stringify(value)}`);
  }
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(`expected a whole number ≥ 0, got ${JSON.stringify(value)}`);
  }
  return n;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `500ms`, `30s`, `2m`, `1h`, or a bare number of seconds. Returns milliseconds. */
export function durationMs(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m)
    throw new InvalidArgumentError(`expected a duration like 30s, 500ms or 2m, got ${JSON.stringify(value)}`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 's']!);
}

/** A ratio between 0 and 1; `95%` is accepted too. */
export function score(value: string): number {
  const v = value.trim();
  const n = v.endsWith('%') ? Number(v.slice(0, -1)) / 100 : Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 1 || v === '') {
    throw new InvalidArgumentError(
      `expected a score between 0 and 1 (or a percentage), got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

export function oneOf<T extends string>(choices: readonly T[]): (value: string) => T {
  return (value: string) => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`expected one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
    }
    return value as T;
  };
}

export function url(protocols: readonly string[]): (value: string) => string {
  return (value: string) => {
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      throw new InvalidArgumentError(`expected a URL, got ${JSON.stringify(value)}`);
    }
    if (!protocols.includes(u.protocol.replace(/:$/, ''))) {
      throw new InvalidArgumentError(
        `expected a ${protocols.join(' or ')} URL, got ${JSON.stringify(value)}`,
      );
    }
    return value;
  };
}
