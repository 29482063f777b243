import type { Redis } from 'ioredis';

// A Redis that is connected but does not answer (a frozen process, a full network buffer, a
// stalled failover) looks healthy to ioredis: the socket is open, so commands are queued and wait
// forever. These bounds make such a Redis a fast, visible failure: /readyz turns 503 and every
// API call answers 503 instead of hanging (docs/collector.md, "When Redis does not answer").

/** How long /readyz waits for Redis to answer PING, ms. */
export const REDIS_PING_TIMEOUT_MS = 1000;
/** How long one PING answer (or its absence) stands for Redis's health, ms. */
export const REDIS_PING_CACHE_MS = 1000;
/** The longest an API call waits on Redis before answering 503, ms. */
export const API_REDIS_TIMEOUT_MS = 5000;

/** Redis did not answer within the bound: the API's 503 `redis-unavailable`. */
export class RedisTimeoutError extends Error {
  readonly code = 'redis-unavailable';
  constructor(what: string, timeoutMs: number) {
    super(`Redis did not answer ${what} within ${timeoutMs} ms`);
    this.name = 'RedisTimeoutError';
  }
}

/**
 * Settles as `work` does, or rejects with RedisTimeoutError after `timeoutMs` (the work itself
 * goes on; its late result is dropped). The timer is unref'ed.
 */
export function withDeadline<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisTimeoutError(what, timeoutMs)), timeoutMs);
    timer.unref();
  });
  // A late rejection of the abandoned work must not become an unhandled rejection.
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export interface RedisHealth {
  /**
   * True when Redis answered PING within `timeoutMs`. One answer stands for `cacheMs`, and callers
   * arriving while a PING is out share it, so probes and API calls add at most one PING per
   * `cacheMs`. Never rejects.
   */
  alive(): Promise<boolean>;
}

export interface RedisHealthOptions {
  readonly timeoutMs?: number;
  readonly cacheMs?: number;
  /** Milliseconds, monotonic enough for a cache age; Date.now by default. */
  readonly now?: () => number;
}

export function createRedisHealth(redis: Pick<Redis, 'ping'>, options: RedisHealthOptions = {}): RedisHealth {
  const timeoutMs = options.timeoutMs ?? REDIS_PING_TIMEOUT_MS;
  const cacheMs = options.cacheMs ?? REDIS_PING_CACHE_MS;
  const now = options.now ?? Date.now;
  let last: { at: number; alive: boolean } | undefined;
  let inFlight: Promise<boolean> | undefined;
  return {
    alive() {
      if (last && now() - last.at < cacheMs) return Promise.resolve(last.alive);
      inFlight ??= withDeadline(redis.ping(), timeoutMs, 'PING')
        .then(
          (pong) => pong === 'PONG',
          () => false,
        )
        .then((alive) => {
          last = { at: now(), alive };
          inFlight = undefined;
          return alive;
        });
      return inFlight;
    },
  };
}
