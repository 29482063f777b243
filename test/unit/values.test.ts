import { describe, expect, it } from 'vitest';
import {
  formatDurationMs,
  formatHostPort,
  InvalidValueError,
  parseChoice,
  parseChoiceList,
  parseDurationMs,
  parseHostPort,
  parsePort,
  parsePositiveInt,
  parsePositiveNumber,
  parseScore,
  parseUrl,
  parseWholeNumber,
  tryParseHostPort,
} from '../../lib/values.js';

// Each grammar: what it accepts, and that a refusal is one InvalidValueError line naming the
// setting and the bad value.
function refusal(fn: () => unknown): InvalidValueError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidValueError);
    return err as InvalidValueError;
  }
  throw new Error('expected a refusal');
}

function expectRefused(fn: () => unknown, setting: string, value: string): void {
  const err = refusal(fn);
  expect(err.code).toBe('config-invalid-value');
  expect(err.setting).toBe(setting);
  expect(err.value).toBe(value);
  expect(err.message.startsWith(`${setting}: `)).toBe(true);
  expect(err.message).toContain(JSON.stringify(value));
  expect(err.message).not.toContain('\n');
}

describe('durations', () => {
  it('reads ms, s, m, h and d, and a bare number in the setting’s unit', () => {
    expect(parseDurationMs('x', '500ms')).toBe(500);
    expect(parseDurationMs('x', '3s')).toBe(3000);
    expect(parseDurationMs('x', '2.5s')).toBe(2500);
    expect(parseDurationMs('x', '2m')).toBe(120_000);
    expect(parseDurationMs('x', '1h')).toBe(3_600_000);
    expect(parseDurationMs('x', '7d')).toBe(7 * 86_400_000);
    expect(parseDurationMs('x', ' 30 ')).toBe(30_000);
    expect(parseDurationMs('x', '30', 'ms')).toBe(30);
    expect(parseDurationMs('x', '2', 'm')).toBe(120_000);
  });

  it.each(['soon', '', '-1s', '3 s', '1y', 's'])('refuses %j', (value) => {
    expectRefused(() => parseDurationMs('DRAINWATCH_WARMUP', value), 'DRAINWATCH_WARMUP', value);
  });

  it('formats the shortest exact text', () => {
    expect(formatDurationMs(3000)).toBe('3s');
    expect(formatDurationMs(500)).toBe('500ms');
    expect(parseDurationMs('x', formatDurationMs(1500))).toBe(1500);
  });
});

describe('host:port', () => {
  it('reads host:port, [v6]:port and :port, and formats them back', () => {
    expect(parseHostPort('x', '127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseHostPort('x', '[::1]:9000')).toEqual({ host: '::1', port: 9000 });
    expect(parseHostPort('x', ':8080')).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(formatHostPort({ host: '::1', port: 9000 })).toBe('[::1]:9000');
    expect(formatHostPort(parseHostPort('x', 'localhost:80'))).toBe('localhost:80');
    expect(tryParseHostPort('8080')).toBeUndefined();
  });

  it.each(['8080', 'host:99999', 'a b:80', 'host:', '1.2.3.4'])('refuses %j', (value) => {
    expectRefused(() => parseHostPort('--listen', value), '--listen', value);
  });
});

describe('URLs', () => {
  it('takes a URL of an allowed scheme as given', () => {
    expect(parseUrl('x', 'nats://n:4222', ['nats', 'tls'])).toBe('nats://n:4222');
    expect(parseUrl('x', 'tls://n:4222', ['nats', 'tls'])).toBe('tls://n:4222');
  });

  it('refuses a non-URL and another scheme, naming the schemes', () => {
    expectRefused(() => parseUrl('NATS_URL', '::', ['nats']), 'NATS_URL', '::');
    const err = refusal(() => parseUrl('REDIS_URL', 'http://x', ['redis', 'rediss']));
    expect(err.message).toBe('REDIS_URL: expected a redis or rediss URL, got "http://x"');
  });
});

describe('scores', () => {
  it('reads a ratio or a percentage', () => {
    expect(parseScore('x', '0.9')).toBe(0.9);
    expect(parseScore('x', '95%')).toBeCloseTo(0.95);
    expect(parseScore('x', '0')).toBe(0);
    expect(parseScore('x', '1')).toBe(1);
  });

  it.each(['1.5', '-0.1', '', 'most', '101%'])('refuses %j', (value) => {
    expectRefused(() => parseScore('--gate', value), '--gate', value);
  });
});

describe('whole and positive numbers', () => {
  it('reads whole numbers with a minimum, ports and positive decimals', () => {
    expect(parseWholeNumber('x', '0')).toBe(0);
    expect(parsePositiveInt('x', '12')).toBe(12);
    expect(parsePort('x', '65535')).toBe(65535);
    expect(parsePositiveNumber('x', '2.5')).toBe(2.5);
  });

  it('refuses what is out of range or not a number', () => {
    expectRefused(() => parsePositiveInt('--replicas', '0'), '--replicas', '0');
    expectRefused(() => parseWholeNumber('--seed', '-1'), '--seed', '-1');
    expectRefused(() => parseWholeNumber('--seed', '1.5'), '--seed', '1.5');
    expectRefused(() => parseWholeNumber('--seed', '9007199254740993'), '--seed', '9007199254740993');
    expectRefused(() => parsePort('--admin-port', '70000'), '--admin-port', '70000');
    expectRefused(() => parsePositiveNumber('--rate', '0'), '--rate', '0');
    expectRefused(() => parsePositiveNumber('--grace', 'soon'), '--grace', 'soon');
  });
});

describe('choices', () => {
  const MIXES = ['uniform', 'skewed'] as const;
  it('takes one of the choices, or a comma list of them', () => {
    expect(parseChoice('x', 'skewed', MIXES)).toBe('skewed');
    expect(parseChoiceList('x', 'uniform, skewed', MIXES)).toEqual(['uniform', 'skewed']);
  });

  it('refuses anything else, listing the choices', () => {
    const err = refusal(() => parseChoice('--user-mix', 'random', MIXES));
    expect(err.message).toBe('--user-mix: expected one of uniform, skewed, got "random"');
    expectRefused(() => parseChoiceList('--variants', 'uniform,clever', MIXES), '--variants', 'clever');
  });
});
