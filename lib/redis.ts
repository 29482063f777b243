import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { refreshSlotsWhileReady, SLOTS_REFRESH_INTERVAL_MS } from './redis-slot-map.js';
import { formatHostPort, type HostPort } from './values.js';
import { pollUntil } from './wait.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_REDIS_PREFIX = 'drainwatch:';

export interface RedisConnectOptions {
  /** Every key this client touches is prefixed with it (ioredis `keyPrefix`). */
  readonly prefix?: string;
  /** Fail at once instead of queueing commands while disconnected (the collector wants this: it must not ack). */
  readonly failFast?: boolean;
  readonly connectTimeoutMs?: number;
  /** AUTH password of the Redis servers; one in a URL wins (ioredis reads the URL first). */
  readonly password?: string;
}

/** Reconnection delay after `times` failed tries, in ms: doubling from 100 ms, at most 2 s. */
const backoff = (times: number): number => Math.min(50 * 2 ** Math.min(times, 6), 2000);

/**
 * An ioredis client that reconnects forever with capped backoff. With `failFast`, commands issued
 * while the server is down reject instead of waiting in ioredis's offline queue, so callers can
 * pause work and report not-ready.
 */
export function createRedis(url: string, options: RedisConnectOptions = {}): Redis {
  return new Redis(url, baseOptions(options));
}

function baseOptions(options: RedisConnectOptions): RedisOptions {
  return {
    keyPrefix: options.prefix ?? DEFAULT_REDIS_PREFIX,
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 2000,
    retryStrategy: backoff,
    maxRetriesPerRequest: options.failFast ? 0 : 20,
    enableOfflineQueue: !options.failFast,
    ...(options.password ? { password: options.password } : {}),
  };
}

/** Redis did not answer within the deadline: one plain line, exit 3 in the CLI. */
export class RedisUnreachableError extends Error {
  readonly code = 'redis-unreachable';
  readonly exitCode = 3;
  constructor(url: string, timeoutMs: number, lastError: Error | undefined) {
    const why = lastError?.message.split('\n')[0] ?? 'no answer';
    super(`Redis at ${redactUrl(url)} is unreachable (${why}; gave up after ${timeoutMs / 1000}s)`);
    this.name = 'RedisUnreachableError';
  }
}

/** The URL without its password, for messages. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** Default deadline of a first connection: a dependency error is reported within 5 s (docs/architecture.md §3). */
export const REDIS_CONNECT_TIMEOUT_MS = 5000;

/**
 * Connects `redis` (created lazy) and waits for its first answer to PING within `timeoutMs`,
 * bounded whatever ioredis's retries do. Throws RedisUnreachableError naming the last socket
 * error (`connect ECONNREFUSED 127.0.0.1:1`), never the client's internals.
 */
export async function waitForRedis(
  redis: RedisClient,
  url: string,
  timeoutMs = REDIS_CONNECT_TIMEOUT_MS,
): Promise<void> {
  let lastError: Error | undefined;
  const onError = (err: Error): void => {
    lastError = err;
  };
  redis.on('error', onError);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
    timer.unref();
  });
  const answered = (async () => {
    await redis.connect().catch(() => {});
    await pollUntil(async () => (await redis.ping().catch(() => undefined)) === 'PONG', {
      timeoutMs,
      intervalMs: 50,
      what: `Redis at ${url}`,
      fatal: () => false,
    });
    return true as const;
  })().catch(() => false as const);
  try {
    if (!(await Promise.race([answered, deadline])))
      throw new RedisUnreachableError(url, timeoutMs, lastError);
  } finally {
    clearTimeout(timer);
    redis.off('error', onError);
  }
}

/**
 * Connects and waits until the server answers PING, within the deadline (default 5 s). Commands
 * queue while disconnected (no failFast): this is for callers that wait for Redis, not ones that
 * must pause. Throws RedisUnreachableError.
 */
export async function connectRedis(
  url: string,
  options: Omit<RedisConnectOptions, 'failFast'> & { timeoutMs?: number } = {},
): Promise<Redis> {
  const redis = createRedis(url, options);
  // A connection error is retried by ioredis; the listener keeps it from becoming an unhandled 'error'.
  redis.on('error', () => {});
  try {
    await waitForRedis(redis, url, options.timeoutMs);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  return redis;
}

/** A single Redis (given by URL or by Sentinels) or a Redis Cluster: the collector and the report reader work on each. */
export type RedisClient = Redis | Cluster;

/**
 * Where Redis is: one server's URL, a Redis Cluster's seed nodes, or the Sentinels that name the
 * current master of group `name`. `password` is the Redis servers' (AUTH; a password in the URL
 * wins), `sentinelPassword` the sentinels' own.
 */
export type RedisTarget =
  | { readonly url: string; readonly password?: string }
  | { readonly cluster: readonly HostPort[]; readonly password?: string }
  | {
      readonly sentinels: readonly HostPort[];
      readonly name: string;
      readonly password?: string;
      readonly sentinelPassword?: string;
    };

/** The target as a log line or an error names it (never a password). */
export function describeRedisTarget(target: RedisTarget): string {
  if ('url' in target) return redactUrl(target.url);
  if ('cluster' in target) return `${target.cluster.map(formatHostPort).join(',')} (Redis Cluster)`;
  return `master ${target.name} of ${target.sentinels.map(formatHostPort).join(',')} (Redis Sentinel)`;
}

/**
 * An ioredis Cluster over the seed nodes: it discovers the other masters and replicas itself,
 * follows MOVED/ASK redirections and re-reads the slot map after a failover. Options as
 * createRedis; the key prefix applies to every key (hash tags in keys are kept: the prefix holds
 * none, so a key's slot is its tag's).
 */
export function createRedisCluster(nodes: readonly HostPort[], options: RedisConnectOptions = {}): Cluster {
  const cluster = new Cluster(
    nodes.map((n) => ({ host: n.host, port: n.port })),
    {
      keyPrefix: options.prefix ?? DEFAULT_REDIS_PREFIX,
      lazyConnect: true,
      clusterRetryStrategy: backoff,
      enableOfflineQueue: !options.failFast,
      // A failover moves slots: commands wait this long and are sent again to the new master.
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      slotsRefreshTimeout: 2000,
      redisOptions: {
        connectTimeout: options.connectTimeoutMs ?? 2000,
        maxRetriesPerRequest: options.failFast ? 0 : 20,
        ...(options.password ? { password: options.password } : {}),
      },
    },
  );
  refreshSlotsWhileReady(cluster, SLOTS_REFRESH_INTERVAL_MS);
  return cluster;
}

/**
 * An ioredis client of the master the Sentinels name for group `name` (Redis Sentinel,
 * https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/). It asks a sentinel for
 * the master's address at every (re)connection and subscribes to `+switch-master`
 * (`failoverDetector`), so after a failover it reconnects to the promoted replica; a write the
 * old master refuses (READONLY once demoted, NOREPLICAS with `min-replicas-to-write` once its
 * replica left) reconnects too and fails like any command while disconnected, for the caller to
 * retry. Options as createRedis; `sentinelPassword` authenticates to the sentinels.
 */
export function createRedisSentinel(
  sentinels: readonly HostPort[],
  name: string,
  options: RedisConnectOptions & { readonly sentinelPassword?: string } = {},
): Redis {
  return new Redis({
    ...baseOptions(options),
    sentinels: sentinels.map((n) => ({ host: n.host, port: n.port })),
    name,
    ...(options.sentinelPassword ? { sentinelPassword: options.sentinelPassword } : {}),
    sentinelRetryStrategy: backoff,
    failoverDetector: true,
    // READONLY: the master was demoted; NOREPLICAS: it lost its replica (min-replicas-to-write), as
    // an old master does once the replica was promoted. Either way ask the sentinels again.
    reconnectOnError: (err) => /^(READONLY|NOREPLICAS)/.test(err.message),
  });
}

/** createRedis, createRedisCluster or createRedisSentinel, by target. */
export function createRedisClient(target: RedisTarget, options: RedisConnectOptions = {}): RedisClient {
  const opts = { ...options, ...(target.password ? { password: target.password } : {}) };
  if ('url' in target) return createRedis(target.url, opts);
  if ('cluster' in target) return createRedisCluster(target.cluster, opts);
  return createRedisSentinel(target.sentinels, target.name, {
    ...opts,
    ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
  });
}

/** connectRedis for any target: connects and waits until PING answers, within the deadline. */
export async function connectRedisClient(
  target: RedisTarget,
  options: Omit<RedisConnectOptions, 'failFast'> & { timeoutMs?: number } = {},
): Promise<RedisClient> {
  const redis = createRedisClient(target, options);
  // A connection error is retried by ioredis; the listener keeps it from becoming an unhandled 'error'.
  redis.on('error', () => {});
  try {
    await waitForRedis(redis, describeRedisTarget(target), options.timeoutMs);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  return redis;
}
