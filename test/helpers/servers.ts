import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import { connectRedis } from '../../lib/redis.js';
import { type RunningServer, startNatsServer, startRedisServer } from '../../lib/servers.js';

/** A short random tag that keeps one test's subjects, stream and keys apart from every other's. */
export function uniqueTag(): string {
  return `t${randomBytes(4).toString('hex')}`;
}

export interface TestNamespace {
  /** Subject root, e.g. `t1a2b3c4d.drainwatch`: events go to `<root>.v1.>`. */
  readonly subjectRoot: string;
  /** Stream name, e.g. `DRAINWATCH_T1A2B3C4D`. */
  readonly streamName: string;
  /** Redis key prefix, e.g. `t1a2b3c4d:drainwatch:`. */
  readonly redisPrefix: string;
}

export function testNamespace(tag: string = uniqueTag()): TestNamespace {
  return {
    subjectRoot: `${tag}.drainwatch`,
    streamName: `DRAINWATCH_${tag.toUpperCase()}`,
    redisPrefix: `${tag}:drainwatch:`,
  };
}

export interface TestServers {
  readonly nats: RunningServer;
  readonly redis: RunningServer;
  stop(): Promise<void>;
}

/** Starts a real nats-server -js and a real redis-server on free loopback ports. */
export async function startTestServers(): Promise<TestServers> {
  const [nats, redis] = await Promise.all([startNatsServer(), startRedisServer()]);
  let stopping: Promise<void> | undefined;
  return {
    nats,
    redis,
    stop() {
      stopping ??= Promise.all([nats.stop(), redis.stop()]).then(() => undefined);
      return stopping;
    },
  };
}

export async function natsClient(server: RunningServer): Promise<NatsConnection> {
  return connect({ servers: server.url, name: 'drainwatch-test' });
}

export async function redisClient(server: RunningServer, prefix: string): Promise<Redis> {
  return connectRedis(server.url, { prefix });
}
