import { Redis, type RedisOptions } from 'ioredis';
import { pollUntil } from './wait.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_REDIS_PREFIX = 'drainwatch:';

export interface RedisConnectOptions {
  /** Every key this client touches is prefixed with it (ioredis `keyPrefix`). */
  readonly prefix?: string;
  /** Fail at once instead of queueing commands while disconnected (the collector wants this: it must not ack). */
  readonly failFast?: boolean;
  readonly connectTimeoutMs?: number;
}

/**
 * An ioredis client that reconnects forever with capped backoff. With `failFast`, commands issued
 * while the server is down reject instead of waiting in ioredis's offline queue, so callers can
 * pause work and report not-ready.
 */
export function createRedis(url: string, options: RedisConnectOptions = {}): Redis {
  const opts: RedisOptions = {
    keyPrefix: options.prefix ?? DEFAULT_REDIS_PREFIX,
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 2000,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    maxRetriesPerRequest: options.failFast ? 0 : 20,
    enableOfflineQueue: !options.failFast,
  };
  return new Redis(url, opts);
}

/**
 * Connects and waits until the server answers PING, within the deadline. Commands queue while
 * disconnected (no failFast): this is for callers that wait for Redis, not ones that must pause.
 */
export async function connectRedis(
  url: string,
  options: Omit<RedisConnectOptions, 'failFast'> & { timeoutMs?: number } = {},
): Promise<Redis> {
  const redis = createRedis(url, options);
  // A connection error is retried by ioredis; the listener keeps it from becoming an unhandled 'error'.
  redis.on('error', () => {});
  await redis.connect().catch(() => {});
  try {
    await pollUntil(async () => (await redis.ping()) === 'PONG', {
      timeoutMs: options.timeoutMs ?? 10_000,
      intervalMs: 50,
      what: `Redis at ${url}`,
      fatal: () => false,
    });
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  return redis;
}
