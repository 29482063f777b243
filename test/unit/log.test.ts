import { describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../agent/config.js';
import { FLUSH_DEADLINE_MARGIN_MS, finalFlushBudgetMs } from '../../agent/final-flush.js';
import { loadCollectorConfig } from '../../collector/config.js';
import { createLogger, formatTextLine, parseLogFormat, parseLogLevel } from '../../lib/log.js';

describe('structured logs (lib/log.ts)', () => {
  it('writes one JSON record per line with the level as a word, dropping what is below the level', () => {
    const lines: string[] = [];
    const log = createLogger({ name: 'agent', level: 'info', format: 'json', write: (l) => lines.push(l) });
    log.debug('hidden');
    log.info({ pending: 3 }, 'final flush started');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'info',
      name: 'agent',
      pending: 3,
      msg: 'final flush started',
    });
  });

  it('text format: time, level, name, message, then the fields', () => {
    const lines: string[] = [];
    const log = createLogger({
      name: 'collector',
      level: 'debug',
      format: 'text',
      write: (l) => lines.push(l),
    });
    log.warn({ reason: 'not-json', n: 2 }, 'refused event');
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\S+Z WARN collector: refused event reason=not-json n=2\n$/);
    expect(formatTextLine('not json')).toBe('not json');
  });

  it('parses levels and formats, case-insensitive; settings name the flag and variable when wrong', () => {
    expect(parseLogLevel('DEBUG')).toBe('debug');
    expect(parseLogLevel('verbose')).toBeUndefined();
    expect(parseLogFormat('text')).toBe('text');
    expect(parseLogFormat('pretty')).toBeUndefined();
    expect(loadAgentConfig({}, {})).toMatchObject({ logLevel: 'info', logFormat: 'json' });
    expect(loadAgentConfig({ logLevel: 'warn' }, { DRAINWATCH_LOG_LEVEL: 'debug' }).logLevel).toBe('warn');
    expect(() => loadAgentConfig({}, { DRAINWATCH_LOG_FORMAT: 'xml' })).toThrow(
      /DRAINWATCH_LOG_FORMAT \(--log-format\)/,
    );
    expect(loadCollectorConfig({}, { DRAINWATCH_LOG_FORMAT: 'text' }).logFormat).toBe('text');
    expect(() => loadCollectorConfig({}, { DRAINWATCH_LOG_LEVEL: 'loud' })).toThrow(/DRAINWATCH_LOG_LEVEL/);
  });
});

describe('the final flush budget (agent.ts)', () => {
  it('runs until the margin before the grace deadline, counted from the termination start', () => {
    // Termination started at 10 s, grace 30 s: the deadline is 40 s, the flush ends at 39 s.
    expect(finalFlushBudgetMs(30, 10_000, 12_000)).toBe(40_000 - FLUSH_DEADLINE_MARGIN_MS - 12_000);
    // No termination seen: counted from now.
    expect(finalFlushBudgetMs(5, undefined, 1000)).toBe(5000 - FLUSH_DEADLINE_MARGIN_MS);
    // Past the deadline already: still one short try.
    expect(finalFlushBudgetMs(5, 0, 60_000)).toBe(250);
  });
});
