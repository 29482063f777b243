import { readFileSync } from 'node:fs';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventSequencer, decodeEvent } from '../../contract/validate.js';
import { ensureStream, publishEvent } from '../../lib/jetstream.js';
import { canConnect, freePort, startRedisServer } from '../../lib/servers.js';
import { SAMPLE_DATA } from '../helpers/sample-events.js';
import {
  natsClient,
  redisClient,
  startTestServers,
  type TestServers,
  testNamespace,
} from '../helpers/servers.js';

describe('real nats-server and redis-server', () => {
  let servers: TestServers;
  let nc: NatsConnection;
  let redis: Redis;
  const ns = testNamespace();

  beforeAll(async () => {
    servers = await startTestServers();
    nc = await natsClient(servers.nats);
    redis = await redisClient(servers.redis, ns.redisPrefix);
  });

  afterAll(async () => {
    await nc?.close();
    redis?.disconnect();
    await servers?.stop();
  });

  it('listen on loopback ports of their own', async () => {
    expect(servers.nats.port).not.toBe(4222);
    expect(servers.redis.port).not.toBe(6379);
    expect(await canConnect(servers.nats.port)).toBe(true);
    expect(await canConnect(servers.redis.port)).toBe(true);
  });

  it('JetStream stores an event published twice with the same message id exactly once', async () => {
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, { name: ns.streamName, root: ns.subjectRoot });
    // A second ensureStream finds the stream instead of failing.
    await ensureStream(jsm, { name: ns.streamName, root: ns.subjectRoot });
    const js = jetstream(nc);
    const seq = createEventSequencer({ namespace: 'shop', workload: 'quote', pod: 'quote-1' });
    const event = seq.next('prestop.started', SAMPLE_DATA['prestop.started']);
    const first = await publishEvent(js, event, { root: ns.subjectRoot });
    const second = await publishEvent(js, event, { root: ns.subjectRoot });
    expect(first.duplicate).toBe(false);
    expect(second.duplicate).toBe(true);
    expect(second.seq).toBe(first.seq);

    const info = await jsm.streams.info(ns.streamName);
    expect(info.state.messages).toBe(1);
    const consumer = await js.consumers.get(ns.streamName);
    const batch = await consumer.fetch({ max_messages: 10, expires: 1000 });
    const got = [];
    for await (const m of batch) {
      got.push(decodeEvent(m.data));
      m.ack();
    }
    expect(got).toHaveLength(1);
    expect(got[0]).toEqual(event);
  });

  it('keeps one test prefix away from another in Redis', async () => {
    const other = await redisClient(servers.redis, testNamespace().redisPrefix);
    try {
      await redis.set('rollout:latest', 'mine');
      await other.set('rollout:latest', 'theirs');
      expect(await redis.get('rollout:latest')).toBe('mine');
      expect(await other.get('rollout:latest')).toBe('theirs');
      // KEYS is not prefixed by ioredis: it shows the real key names of both tests.
      const raw = (await redis.call('KEYS', '*')) as string[];
      expect(raw).toHaveLength(2);
      expect(raw).toContain(`${ns.redisPrefix}rollout:latest`);
      expect(raw.filter((k) => !k.startsWith(ns.redisPrefix))).toHaveLength(1);
    } finally {
      other.disconnect();
    }
  });

  it('a stopped server can be stopped again and leaves no process behind', async () => {
    const r = await startRedisServer();
    const pid = r.pid;
    await Promise.all([r.stop(), r.stop()]);
    await r.stop();
    expect(await canConnect(r.port)).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('hands out ports below the kernel ephemeral range, so no port-0 bind can take them first', async () => {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const p of ports) {
      expect(p).toBeGreaterThanOrEqual(10_000);
      expect(p).toBeLessThan(low);
    }
    expect(servers.nats.port).toBeLessThan(low);
  });

  it('a paused server comes back on the same port', async () => {
    const r = await startRedisServer();
    try {
      await r.pause();
      expect(await canConnect(r.port)).toBe(false);
      await r.resume();
      expect(await canConnect(r.port)).toBe(true);
    } finally {
      await r.stop();
    }
  });
});
