import { parseArgs } from 'node:util';
import { QuoteConfigError } from './errors.js';

// The quote app's switches. Each flaw a rehearsal exposes is one of them, so a run can show the
// flawed and the fixed version of the same app: flag > env > default.

export const SESSION_STORES = ['memory', 'redis'] as const;
export type SessionStoreKind = (typeof SESSION_STORES)[number];
export const WS_CLOSE_MODES = ['1001', 'none'] as const;
export type WsCloseMode = (typeof WS_CLOSE_MODES)[number];

export interface QuoteAppConfig {
  readonly host: string;
  /** 0 lets the kernel choose (tests). */
  readonly port: number;
  readonly sessions: SessionStoreKind;
  /** on: stop accepting, finish in-flight, close idle keep-alive and WebSockets, exit. off: exit at SIGTERM. */
  readonly graceful: boolean;
  readonly wsClose: WsCloseMode;
  /** Simulated work per quote. */
  readonly workMs: number;
  readonly priceIntervalMs: number;
  /**
   * Each WebSocket ping is acknowledged this long after it arrived (0: at once), as an app that
   * processes a message before confirming it does; a graceful shutdown writes every pending ack
   * before closing the sockets, an abrupt exit leaves them unsent.
   */
  readonly ackDelayMs: number;
  readonly redisUrl?: string;
  readonly redisPrefix: string;
  readonly sessionTtlSeconds: number;
  /** The longest a graceful shutdown waits for in-flight requests before it exits anyway. */
  readonly shutdownTimeoutMs: number;
}

export const QUOTE_DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  sessions: 'memory',
  graceful: true,
  wsClose: '1001',
  workMs: 5,
  priceIntervalMs: 500,
  ackDelayMs: 0,
  redisPrefix: 'quote-app:',
  sessionTtlSeconds: 3600,
  shutdownTimeoutMs: 20_000,
} as const satisfies Omit<QuoteAppConfig, 'redisUrl'>;

function oneOf<T extends string>(setting: string, value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) {
    throw new QuoteConfigError(
      setting,
      `expected one of ${choices.join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return value as T;
}

function wholeNumber(setting: string, value: string, min = 0): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new QuoteConfigError(setting, `expected a whole number ≥ ${min}, got ${JSON.stringify(value)}`);
  }
  return n;
}

function onOff(setting: string, value: string): boolean {
  return oneOf(setting, value, ['on', 'off'] as const) === 'on';
}

/** Reads flags (`--sessions redis`) over env (`QUOTE_SESSIONS=redis`) over QUOTE_DEFAULTS. */
export function readQuoteConfig(
  argv: readonly string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): QuoteAppConfig {
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        sessions: { type: 'string' },
        graceful: { type: 'string' },
        'ws-close': { type: 'string' },
        'work-ms': { type: 'string' },
        'price-interval-ms': { type: 'string' },
        'ack-delay-ms': { type: 'string' },
        'redis-url': { type: 'string' },
      },
      strict: true,
    }).values as Record<string, string | undefined>;
  } catch (err) {
    throw new QuoteConfigError('arguments', (err as Error).message);
  }
  const pick = (flag: string, envName: string): string | undefined => values[flag] ?? env[envName];
  const d = QUOTE_DEFAULTS;
  const raw = {
    host: pick('host', 'QUOTE_HOST'),
    port: pick('port', 'PORT'),
    sessions: pick('sessions', 'QUOTE_SESSIONS'),
    graceful: pick('graceful', 'QUOTE_GRACEFUL'),
    wsClose: pick('ws-close', 'QUOTE_WS_CLOSE'),
    workMs: pick('work-ms', 'QUOTE_WORK_MS'),
    priceIntervalMs: pick('price-interval-ms', 'QUOTE_PRICE_INTERVAL_MS'),
    ackDelayMs: pick('ack-delay-ms', 'QUOTE_ACK_DELAY_MS'),
    redisUrl: pick('redis-url', 'REDIS_URL'),
  };
  const config: QuoteAppConfig = {
    host: raw.host || d.host,
    port: raw.port ? wholeNumber('PORT', raw.port) : d.port,
    sessions: raw.sessions ? oneOf('QUOTE_SESSIONS', raw.sessions, SESSION_STORES) : d.sessions,
    graceful: raw.graceful ? onOff('QUOTE_GRACEFUL', raw.graceful) : d.graceful,
    wsClose: raw.wsClose ? oneOf('QUOTE_WS_CLOSE', raw.wsClose, WS_CLOSE_MODES) : d.wsClose,
    workMs: raw.workMs ? wholeNumber('QUOTE_WORK_MS', raw.workMs) : d.workMs,
    priceIntervalMs: raw.priceIntervalMs
      ? wholeNumber('QUOTE_PRICE_INTERVAL_MS', raw.priceIntervalMs, 10)
      : d.priceIntervalMs,
    ackDelayMs: raw.ackDelayMs ? wholeNumber('QUOTE_ACK_DELAY_MS', raw.ackDelayMs) : d.ackDelayMs,
    redisPrefix: env.QUOTE_REDIS_PREFIX || d.redisPrefix,
    sessionTtlSeconds: d.sessionTtlSeconds,
    shutdownTimeoutMs: d.shutdownTimeoutMs,
    ...(raw.redisUrl ? { redisUrl: raw.redisUrl } : {}),
  };
  if (config.sessions === 'redis' && !config.redisUrl) {
    throw new QuoteConfigError('QUOTE_SESSIONS', 'redis sessions need REDIS_URL (or --redis-url)');
  }
  return config;
}
