import { parseChoice, parseDurationMs } from '../../lib/values.js';

// The news feed's switches (docs/probe.md, "Example apps"): env only, one definition each.

export const NEWS_FEED_MODES = ['naive', 'fixed'] as const;
export type NewsFeedMode = (typeof NEWS_FEED_MODES)[number];

export interface NewsFeedConfig {
  readonly host: string;
  /** 0 lets the kernel choose (tests). */
  readonly port: number;
  /**
   * naive: SIGTERM ends the process with its streams open (cut mid-body) and `Last-Event-ID` is
   * ignored, so a reconnect starts at the current headline. fixed: SIGTERM stops listening, ends
   * each stream cleanly and exits; a reconnect resumes after `Last-Event-ID` from the shared
   * history in Redis.
   */
  readonly mode: NewsFeedMode;
  /** One headline per tick; the tick number (wall clock / tickMs) is the event's `id:`. */
  readonly tickMs: number;
  /** The `retry:` the streams announce (ms): how long EventSource waits before reconnecting. */
  readonly retryMs: number;
  readonly redisUrl: string;
  readonly redisPrefix: string;
}

export function readNewsFeedConfig(env: NodeJS.ProcessEnv): NewsFeedConfig {
  if (!env.REDIS_URL)
    throw new Error('REDIS_URL: required (the headline history and the sent counts live in Redis)');
  return {
    host: env.HOST ?? '127.0.0.1',
    port: Number(env.PORT ?? '8080'),
    mode: parseChoice('FEED_MODE', env.FEED_MODE ?? 'fixed', NEWS_FEED_MODES),
    tickMs: parseDurationMs('FEED_TICK', env.FEED_TICK ?? '100ms', 'ms'),
    retryMs: parseDurationMs('FEED_RETRY', env.FEED_RETRY ?? '250ms', 'ms'),
    redisUrl: env.REDIS_URL,
    redisPrefix: env.FEED_REDIS_PREFIX ?? 'news-feed:',
  };
}
