import { InvalidValueError, parseDurationMs, parsePositiveInt } from '../lib/values.js';

// Value grammars of the collector's own settings (the shared ones are in lib/values.ts).

// Sizes are a grammar of the collector alone (JetStream's max bytes).
const SIZE: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

export function bytes(setting: string, value: string): number {
  const m = /^(\d+)([kmg]?)i?b?$/i.exec(value.trim());
  if (!m) throw new InvalidValueError(setting, value, `expected a size like 512m or 1g, got ${value}`);
  const n = Number(m[1]) * SIZE[m[2]!.toLowerCase()]!;
  if (n <= 0) throw new InvalidValueError(setting, value, `must be above zero, got ${value}`);
  return n;
}

/** JetStream's own limit: a stream keeps at most 5 replicas. */
export function streamReplicas(setting: string, value: string): number {
  const n = parsePositiveInt(setting, value);
  if (n > 5) throw new InvalidValueError(setting, value, `JetStream keeps at most 5 replicas, got ${n}`);
  return n;
}

/** The shared duration grammar (a bare number is seconds), above zero. */
export function positiveDurationMs(setting: string, value: string): number {
  const ms = parseDurationMs(setting, value);
  if (ms <= 0) throw new InvalidValueError(setting, value, `must be above zero, got ${value}`);
  return ms;
}

/** `NAME` tokens (a stream, a consumer, a subject root's parts). */
export function named(what: string, dotted: boolean): (setting: string, value: string) => string {
  return (setting, value) => {
    const ok = dotted ? value.split('.').every((t) => NAME.test(t)) : NAME.test(value);
    if (!ok) throw new InvalidValueError(setting, value, `not a valid ${what}: ${value}`);
    return value;
  };
}

export function choice<T>(parse: (v: string) => T | undefined, choices: readonly string[]) {
  return (setting: string, value: string): T =>
    parse(value) ??
    (() => {
      throw new InvalidValueError(setting, value, `expected one of ${choices.join(', ')}, got ${value}`);
    })();
}

const NAME = /^[A-Za-z0-9_-]+$/;
