import { type Command, Option } from 'commander';
import type { RedisTarget } from '../lib/redis.js';
import { InvalidValueError, parseHostPortList } from '../lib/values.js';
import { UsageError } from './errors.js';

// `--redis-cluster` / REDIS_CLUSTER_NODES beside `--redis-url` / REDIS_URL, for the commands that
// read the collector's Redis: one single Redis or a Redis Cluster's seed nodes, never both.

/** The option: Redis Cluster seed nodes, `host:port,host:port`. */
export function redisClusterOption(): Option {
  return new Option(
    '--redis-cluster <host:port,...>',
    'Redis Cluster seed nodes, instead of --redis-url',
  ).env('REDIS_CLUSTER_NODES');
}

/**
 * The Redis the command's flags name. Throws UsageError (exit 2) when both --redis-url (flag or
 * REDIS_URL, not its default) and --redis-cluster are set, or a seed node is not host:port.
 */
export function redisTargetOf(cmd: Command, defaultUrl: string): RedisTarget {
  const o = cmd.opts() as { redisUrl?: string; redisCluster?: string };
  const source = cmd.getOptionValueSource('redisUrl');
  return resolveRedisTarget({
    url: o.redisUrl ?? defaultUrl,
    urlSet: source === 'cli' || source === 'env',
    cluster: o.redisCluster,
  });
}

/** As redisTargetOf, from values: `urlSet` tells a given --redis-url from a default one. */
export function resolveRedisTarget(o: {
  url: string;
  urlSet: boolean;
  cluster: string | undefined;
}): RedisTarget {
  if (o.cluster === undefined || o.cluster === '') return { url: o.url };
  if (o.urlSet) {
    throw new UsageError(
      'REDIS_CLUSTER_NODES (--redis-cluster) names a Redis Cluster, and REDIS_URL (--redis-url) a single Redis: set one of them',
    );
  }
  try {
    return { cluster: parseHostPortList('REDIS_CLUSTER_NODES (--redis-cluster)', o.cluster) };
  } catch (err) {
    if (err instanceof InvalidValueError) throw new UsageError(err.message);
    throw err;
  }
}
