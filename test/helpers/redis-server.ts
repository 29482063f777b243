import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { type RunningServer, startRedisServer } from '../../lib/servers.js';
import { redisClient, testNamespace } from './servers.js';

/**
 * A real redis-server on a free loopback port for the calling test file (started before its
 * tests, stopped after them), and clients each on a key prefix of their own, closed with it.
 */
export function useRedisServer(): { client(): Promise<Redis> } {
  let server: RunningServer | undefined;
  const clients: Redis[] = [];
  beforeAll(async () => {
    server = await startRedisServer();
  }, 30_000);
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await server?.stop();
  });
  return {
    async client() {
      if (!server) throw new Error('useRedisServer: client() before the server started');
      const redis = await redisClient(server, testNamespace().redisPrefix);
      clients.push(redis);
      return redis;
    },
  };
}
