import { parseChoice, parseDurationMs } from '../../lib/values.js';

// The price feed's switches (docs/probe.md, "Example apps"): env only, one definition each.

export const FEED_MODES = ['naive', 'fixed'] as const;
export type FeedMode = (typeof FEED_MODES)[number];

export interface PriceFeedConfig {
  readonly host: string;
  /** 0 lets the kernel choose (tests). */
  readonly port: number;
  /**
   * naive: SIGTERM ends the process at once (no close frame, echoes and replies owed never sent)
   * and a `resume` is served as a fresh subscribe. fixed: SIGTERM stops accepting, answers what
   * arrived, closes each socket with 1001 and exits; `resume` replays from the shared log in Redis.
   */
  readonly mode: FeedMode;
  /** One push per tick; the tick number (wall clock / tickMs) is the push's sequence number. */
  readonly tickMs: number;
  /**
   * How long an echo (`/echo`) or a reply (`/rpc`) takes after its message arrived, in ms: the
   * app's work, so a message is in flight most of the time between the probe's (one a second).
   */
  readonly replyDelayMs: number;
  readonly redisUrl: string;
  readonly redisPrefix: string;
}

export function readPriceFeedConfig(env: NodeJS.ProcessEnv): PriceFeedConfig {
  if (!env.REDIS_URL) throw new Error('REDIS_URL: required (the feed log and the sent counts live in Redis)');
  return {
    host: env.HOST ?? '127.0.0.1',
    port: Number(env.PORT ?? '8080'),
    mode: parseChoice('FEED_MODE', env.FEED_MODE ?? 'fixed', FEED_MODES),
    tickMs: parseDurationMs('FEED_TICK', env.FEED_TICK ?? '100ms', 'ms'),
    replyDelayMs: parseDurationMs('FEED_REPLY_DELAY', env.FEED_REPLY_DELAY ?? '800ms'),
    redisUrl: env.REDIS_URL,
    redisPrefix: env.FEED_REDIS_PREFIX ?? 'price-feed:',
  };
}
