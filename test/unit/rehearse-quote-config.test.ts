import { describe, expect, it } from 'vitest';
import { QUOTE_DEFAULTS, QuoteConfigError, readQuoteConfig } from '../../examples/quote-app/index.js';

describe('quote-app config', () => {
  it('falls back to the defaults', () => {
    const c = readQuoteConfig([], {});
    expect(c.sessions).toBe(QUOTE_DEFAULTS.sessions);
    expect(c.graceful).toBe(true);
    expect(c.wsClose).toBe('1001');
    expect(c.port).toBe(8080);
  });

  it('takes a flag over the environment', () => {
    const c = readQuoteConfig(['--graceful', 'on', '--ws-close', '1001'], {
      QUOTE_GRACEFUL: 'off',
      QUOTE_WS_CLOSE: 'none',
      PORT: '9000',
    });
    expect(c.graceful).toBe(true);
    expect(c.wsClose).toBe('1001');
    expect(c.port).toBe(9000);
  });

  it('refuses redis sessions without REDIS_URL, naming the setting', () => {
    expect(() => readQuoteConfig([], { QUOTE_SESSIONS: 'redis' })).toThrow(QuoteConfigError);
    expect(() => readQuoteConfig([], { QUOTE_SESSIONS: 'redis' })).toThrow(/^QUOTE_SESSIONS:/);
    expect(
      readQuoteConfig(['--redis-url', 'redis://127.0.0.1:1'], { QUOTE_SESSIONS: 'redis' }).sessions,
    ).toBe('redis');
  });

  it('rejects bad values with the setting name', () => {
    expect(() => readQuoteConfig([], { QUOTE_GRACEFUL: 'maybe' })).toThrow(/QUOTE_GRACEFUL/);
    expect(() => readQuoteConfig([], { PORT: '-1' })).toThrow(/PORT/);
    expect(() => readQuoteConfig(['--bogus'], {})).toThrow(/arguments/);
  });
});
