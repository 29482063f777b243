import { describe, expect, it } from 'vitest';
import { exitCodeOf, UsageError } from '../../cli/errors.js';
import { resolveRedisTarget } from '../../cli/redis-target.js';
import { CollectorConfigError, collectorRedisTarget, loadCollectorConfig } from '../../collector/index.js';
import { describeRedisTarget } from '../../lib/redis.js';

// The settings naming the collector's Redis (lib/redis-target.ts) as the collector's config and the
// report/verify commands read them: one URL, a Redis Cluster, or Sentinels, never two.

const SENTINELS = [
  { host: '10.0.0.1', port: 26379 },
  { host: 'sentinel-1', port: 26380 },
];

describe('Redis target settings', () => {
  it('collector: Sentinels with their group name and passwords become a sentinel target', () => {
    const c = loadCollectorConfig(
      { redisSentinel: '10.0.0.1:26379, sentinel-1:26380', redisPassword: 'pw' },
      { REDIS_SENTINEL_NAME: 'cache', REDIS_SENTINEL_PASSWORD: 'spw' },
    );
    expect(c.redisSentinel).toEqual(SENTINELS);
    expect(collectorRedisTarget(c)).toEqual({
      sentinels: SENTINELS,
      name: 'cache',
      password: 'pw',
      sentinelPassword: 'spw',
    });
    const plain = loadCollectorConfig({}, { REDIS_SENTINEL_NODES: 's:26379' });
    expect(plain.redisSentinelName).toBe('mymaster');
    expect(collectorRedisTarget(plain)).toEqual({
      sentinels: [{ host: 's', port: 26379 }],
      name: 'mymaster',
    });
    expect(collectorRedisTarget(loadCollectorConfig({}, {}))).toEqual({ url: 'redis://127.0.0.1:6379' });
    expect(collectorRedisTarget(loadCollectorConfig({}, { REDIS_PASSWORD: 'pw' }))).toEqual({
      url: 'redis://127.0.0.1:6379',
      password: 'pw',
    });
  });

  it('collector: two ways to name Redis, or a bad node, stop start-up with one line', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [
        { REDIS_URL: 'redis://r:6379', REDIS_SENTINEL_NODES: 's:26379' },
        /^REDIS_SENTINEL_NODES \(--redis-sentinel\): names Redis Sentinels, and REDIS_URL \(--redis-url\) a single Redis: set one of them$/,
      ],
      [
        { REDIS_CLUSTER_NODES: 'r:7000', REDIS_SENTINEL_NODES: 's:26379' },
        /^REDIS_SENTINEL_NODES \(--redis-sentinel\): names Redis Sentinels, and REDIS_CLUSTER_NODES \(--redis-cluster\) a Redis Cluster: set one of them$/,
      ],
      [
        { REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'r:7000', REDIS_SENTINEL_NODES: 's:26379' },
        /^REDIS_SENTINEL_NODES \(--redis-sentinel\): names Redis Sentinels, and REDIS_URL \(--redis-url\) a single Redis, and REDIS_CLUSTER_NODES \(--redis-cluster\) a Redis Cluster: set one of them$/,
      ],
      [{ REDIS_SENTINEL_NODES: 's:26379,' }, /^REDIS_SENTINEL_NODES \(--redis-sentinel\): .*host:port/],
      [{ REDIS_SENTINEL_NODES: ':26379' }, /^REDIS_SENTINEL_NODES \(--redis-sentinel\): .*host:port/],
    ];
    for (const [env, message] of cases) {
      let err: unknown;
      try {
        loadCollectorConfig({}, env);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(env)).toBeInstanceOf(CollectorConfigError);
      expect((err as Error).message).toMatch(message);
      expect(exitCodeOf(err)).toBe(2);
    }
    // A flag counts as much as its env var; an empty env var is unset.
    expect(() => loadCollectorConfig({ redisSentinel: 's:1' }, { REDIS_URL: 'redis://r' })).toThrow(
      /set one/,
    );
    expect(() => loadCollectorConfig({}, { REDIS_URL: '', REDIS_SENTINEL_NODES: 's:1' })).not.toThrow();
  });

  it('report and verify: the same rule; a default URL does not count', () => {
    const base = { url: 'redis://127.0.0.1:6379', urlSet: false };
    expect(resolveRedisTarget({ ...base, redisSentinel: 's:26379', redisSentinelName: 'cache' })).toEqual({
      sentinels: [{ host: 's', port: 26379 }],
      name: 'cache',
    });
    expect(resolveRedisTarget({ ...base, redisSentinel: 's:26379' })).toMatchObject({ name: 'mymaster' });
    expect(resolveRedisTarget({ ...base, redisCluster: 'c:7000', redisPassword: 'pw' })).toEqual({
      cluster: [{ host: 'c', port: 7000 }],
      password: 'pw',
    });
    expect(resolveRedisTarget(base)).toEqual({ url: base.url });
    const both = () => resolveRedisTarget({ ...base, urlSet: true, redisSentinel: 's:26379' });
    expect(both).toThrow(UsageError);
    expect(both).toThrow(
      'REDIS_SENTINEL_NODES (--redis-sentinel): names Redis Sentinels, and REDIS_URL (--redis-url) a single Redis: set one of them',
    );
    expect(() => resolveRedisTarget({ ...base, redisSentinel: 'nope' })).toThrow(
      /^REDIS_SENTINEL_NODES \(--redis-sentinel\): expected host:port/,
    );
  });

  it('names a target without its passwords', () => {
    expect(
      describeRedisTarget({ sentinels: SENTINELS, name: 'cache', password: 'pw', sentinelPassword: 's' }),
    ).toBe('master cache of 10.0.0.1:26379,sentinel-1:26380 (Redis Sentinel)');
    expect(describeRedisTarget({ url: 'redis://u:secret@r:6379' })).toBe('redis://u:***@r:6379');
  });
});
