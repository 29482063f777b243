import { describe, expect, it } from 'vitest';
import { exitCodeOf } from '../../cli/errors.js';
import { COLLECTOR_DEFAULTS, CollectorConfigError, loadCollectorConfig } from '../../collector/index.js';
import { InvalidSettingsError } from '../../lib/values.js';

describe('collector config', () => {
  it('uses the defaults of docs/architecture.md §3 with an empty environment', () => {
    const c = loadCollectorConfig({}, {});
    expect(c.listen).toEqual({ host: '0.0.0.0', port: 15090 });
    expect(c.redisUrl).toBe(COLLECTOR_DEFAULTS.redisUrl);
    expect(c.redisPrefix).toBe('drainwatch:');
    expect(c.subjectRoot).toBe('drainwatch');
    expect(c.stream).toBe('DRAINWATCH');
    expect(c.consumer).toBe('drainwatch-collector');
    expect(c.apiToken).toBeUndefined();
    expect(c.otlpEndpoint).toBeUndefined();
  });

  it('takes a flag over the environment, and the environment over the default', () => {
    const env = {
      DRAINWATCH_LISTEN: '127.0.0.1:0',
      DRAINWATCH_ROLLOUT_QUIET: '90s',
      NATS_URL: 'nats://n:4222',
    };
    const c = loadCollectorConfig({ listen: '127.0.0.1:9999' }, env);
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 9999 });
    expect(c.rolloutQuietMs).toBe(90_000);
    expect(c.natsUrl).toBe('nats://n:4222');
    expect(c.refreshIntervalMs).toBe(COLLECTOR_DEFAULTS.refreshIntervalMs);
    expect(
      loadCollectorConfig({ refreshInterval: '2s' }, { DRAINWATCH_REFRESH_INTERVAL: '5s' }).refreshIntervalMs,
    ).toBe(2000);
    expect(loadCollectorConfig({}, { DRAINWATCH_REFRESH_INTERVAL: '5s' }).refreshIntervalMs).toBe(5000);
    expect(loadCollectorConfig({}, env).listen.port).toBe(0);
    // The replay window after a Redis loss: 30 s by default, 0 turns it off (flag > env).
    expect(c.redisReplayWindowMs).toBe(30_000);
    // The pull expiry: 2 s by default, not nats.js's 30 s (collector/pull.ts says why).
    expect(c.pullExpiryMs).toBe(2000);
    expect(loadCollectorConfig({ pullExpiry: '3s' }, { DRAINWATCH_PULL_EXPIRY: '10s' }).pullExpiryMs).toBe(
      3000,
    );
    expect(loadCollectorConfig({}, { DRAINWATCH_PULL_EXPIRY: '10s' }).pullExpiryMs).toBe(10_000);
    // The apply linger: 50 ms by default, 0 turns it off (flag > env).
    expect(c.applyLingerMs).toBe(50);
    expect(loadCollectorConfig({}, { DRAINWATCH_APPLY_LINGER: '0' }).applyLingerMs).toBe(0);
    expect(loadCollectorConfig({ applyLinger: '5ms' }, { DRAINWATCH_APPLY_LINGER: '1s' }).applyLingerMs).toBe(
      5,
    );
    expect(loadCollectorConfig({}, { DRAINWATCH_REDIS_REPLAY_WINDOW: '0' }).redisReplayWindowMs).toBe(0);
    expect(
      loadCollectorConfig({ redisReplayWindow: '2m' }, { DRAINWATCH_REDIS_REPLAY_WINDOW: '5s' })
        .redisReplayWindowMs,
    ).toBe(120_000);
    expect(loadCollectorConfig({}, { DRAINWATCH_STREAM_MAX_BYTES: '512m' }).streamMaxBytes).toBe(
      512 * 1024 ** 2,
    );
  });

  it.each([
    [{ DRAINWATCH_LISTEN: 'nowhere' }, 'DRAINWATCH_LISTEN'],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL'],
    [{ NATS_URL: '::' }, 'NATS_URL'],
    [{ DRAINWATCH_ROLLOUT_QUIET: 'soon' }, 'DRAINWATCH_ROLLOUT_QUIET'],
    [{ DRAINWATCH_SUBJECT_ROOT: 'a.>' }, 'DRAINWATCH_SUBJECT_ROOT'],
    [{ DRAINWATCH_GATE: '1.5' }, 'DRAINWATCH_GATE'],
    [{ DRAINWATCH_ACK_WAIT: '500ms' }, 'DRAINWATCH_ACK_WAIT'],
    [{ DRAINWATCH_PULL_EXPIRY: '500ms' }, 'DRAINWATCH_PULL_EXPIRY'],
    // Past nats.js's heartbeat clamp (a consumer that then pulls nothing while /readyz says ready).
    [{ DRAINWATCH_PULL_EXPIRY: '61s' }, 'DRAINWATCH_PULL_EXPIRY'],
    [{ DRAINWATCH_PULL_EXPIRY: '1000000d' }, 'DRAINWATCH_PULL_EXPIRY'],
    [{ DRAINWATCH_APPLY_LINGER: '2s' }, 'DRAINWATCH_APPLY_LINGER'],
    [{ DRAINWATCH_APPLY_LINGER: 'briefly' }, 'DRAINWATCH_APPLY_LINGER'],
    // Lingering near the ack wait would have JetStream deliver the batch's messages again.
    [{ DRAINWATCH_APPLY_LINGER: '600ms', DRAINWATCH_ACK_WAIT: '1s' }, 'DRAINWATCH_APPLY_LINGER'],
    // JetStream's nanosecond durations overflowed ("invalid JSON" at stream set-up, exit 3).
    [{ DRAINWATCH_ACK_WAIT: '1000000d' }, 'DRAINWATCH_ACK_WAIT'],
    [{ DRAINWATCH_POD_SERIES_EXPIRY: '1s' }, 'DRAINWATCH_POD_SERIES_EXPIRY'],
    [{ DRAINWATCH_DEAD_LETTER_MAX: '0' }, 'DRAINWATCH_DEAD_LETTER_MAX'],
    [{ DRAINWATCH_REFRESH_INTERVAL: '0s' }, 'DRAINWATCH_REFRESH_INTERVAL'],
    [{ DRAINWATCH_REDIS_REPLAY_WINDOW: 'a while' }, 'DRAINWATCH_REDIS_REPLAY_WINDOW'],
  ])('refuses %o with one line naming %s, which the CLI maps to exit 2', (env, setting) => {
    let err: unknown;
    try {
      loadCollectorConfig({}, env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CollectorConfigError);
    expect((err as Error).message.startsWith(`${setting} (--`)).toBe(true);
    expect((err as Error).message).not.toContain('\n');
    expect(exitCodeOf(err)).toBe(2);
  });

  it('takes a Redis Cluster, several NATS servers and stream replicas, and refuses a Redis named twice', () => {
    const c = loadCollectorConfig(
      { redisCluster: '10.0.0.1:7000, redis-1:7001' },
      { NATS_URL: 'nats://a:4222, nats://b:4222', DRAINWATCH_STREAM_REPLICAS: '3' },
    );
    expect(c.redisCluster).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-1', port: 7001 },
    ]);
    expect(c.natsUrl).toBe('nats://a:4222,nats://b:4222');
    expect(c.streamReplicas).toBe(3);
    expect(loadCollectorConfig({}, {}).redisCluster).toBeUndefined();
    expect(loadCollectorConfig({}, {}).streamReplicas).toBe(1);
    const both = () => loadCollectorConfig({ redisUrl: 'redis://r:6379' }, { REDIS_CLUSTER_NODES: 'r:7000' });
    expect(both).toThrow(CollectorConfigError);
    expect(both).toThrow(/REDIS_CLUSTER_NODES.*--redis-cluster.*set one of them/);
    expect(() => loadCollectorConfig({}, { REDIS_CLUSTER_NODES: 'r:7000,' })).toThrow(/host:port/);
    expect(() => loadCollectorConfig({}, { REDIS_CLUSTER_NODES: ':7000' })).toThrow(/host:port/);
    expect(() => loadCollectorConfig({}, { NATS_URL: 'nats://a:4222,http://b' })).toThrow(/NATS_URL/);
    expect(() => loadCollectorConfig({}, { DRAINWATCH_STREAM_REPLICAS: '7' })).toThrow(/at most 5/);
    expect(exitCodeOf(catchError(both))).toBe(2);
  });

  it('remembers event ids at least as long as the stream keeps events', () => {
    const c = loadCollectorConfig({}, { DRAINWATCH_STREAM_MAX_AGE: '30d' });
    expect(c.retentionSeconds).toBe(30 * 86_400);
    expect(
      loadCollectorConfig({}, { DRAINWATCH_RETENTION: '2d', DRAINWATCH_STREAM_MAX_AGE: '1d' })
        .retentionSeconds,
    ).toBe(2 * 86_400);
    expect(() =>
      loadCollectorConfig({}, { DRAINWATCH_RETENTION: '1d', DRAINWATCH_STREAM_MAX_AGE: '2d' }),
    ).toThrow(/^DRAINWATCH_RETENTION: must be at least the stream max age/);
  });

  it('names every bad setting at once, each with its env and flag', () => {
    let err: unknown;
    try {
      loadCollectorConfig({ listen: 'nowhere' }, { REDIS_URL: 'http://x', DRAINWATCH_ACK_WAIT: '500ms' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidSettingsError);
    expect((err as Error).message.split('\n')).toEqual([
      '3 invalid settings:',
      '  DRAINWATCH_LISTEN (--listen): expected host:port, got "nowhere"',
      '  REDIS_URL (--redis-url): expected a redis or rediss URL, got "http://x"',
      '  DRAINWATCH_ACK_WAIT (--ack-wait): must be from 1s to 1h, got 500 ms',
    ]);
    expect(exitCodeOf(err)).toBe(2);
  });
});

function catchError(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  return undefined;
}
