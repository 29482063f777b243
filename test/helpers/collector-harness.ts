import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import { type CollectorConfig, loadCollectorConfig } from '../../collector/index.js';
import { natsClient, redisClient, startTestServers, type TestServers, testNamespace } from './servers.js';

// Real servers plus a collector config that keeps one test's stream, consumer and keys apart.

export interface CollectorEnv {
  readonly servers: TestServers;
  readonly nc: NatsConnection;
  readonly redis: Redis;
  readonly ns: ReturnType<typeof testNamespace>;
  config(overrides?: Record<string, string>): CollectorConfig;
  /** The environment a child `drainwatch collector` process needs. */
  childEnv(overrides?: Record<string, string>): Record<string, string>;
  stop(): Promise<void>;
}

export async function startCollectorEnv(): Promise<CollectorEnv> {
  const servers = await startTestServers();
  const ns = testNamespace();
  const nc = await natsClient(servers.nats);
  const redis = await redisClient(servers.redis, ns.redisPrefix);
  const env = (overrides: Record<string, string> = {}) => ({
    DRAINWATCH_LISTEN: '127.0.0.1:0',
    NATS_URL: servers.nats.url,
    REDIS_URL: servers.redis.url,
    DRAINWATCH_REDIS_PREFIX: ns.redisPrefix,
    DRAINWATCH_SUBJECT_ROOT: ns.subjectRoot,
    DRAINWATCH_STREAM: ns.streamName,
    DRAINWATCH_CONSUMER: 'collector-test',
    DRAINWATCH_ACK_WAIT: '3s',
    ...overrides,
  });
  return {
    servers,
    nc,
    redis,
    ns,
    config: (overrides) => loadCollectorConfig({}, env(overrides)),
    childEnv: env,
    async stop() {
      await nc.close().catch(() => {});
      redis.disconnect();
      await servers.stop();
    },
  };
}
