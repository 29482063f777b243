import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll } from 'vitest';
import type { AnyEvent } from '../../contract/index.js';
import { type RunningServer, startNatsServer, startRedisServer } from '../../lib/servers.js';
import { type CollectorRun, type CollectorRuns, collectorRuns } from './collector-run.js';
import { publishAll } from './collector-scenario.js';
import { natsClient } from './servers.js';

// A test file's own nats-server and redis-server on loopback, a NATS client, and its collector
// runs on one durable consumer: started in the file's beforeAll, stopped in its afterAll (runs
// first). For files that start one collector per case on a single Redis.

export interface CollectorServers {
  readonly nats: RunningServer;
  readonly redis: RunningServer;
  readonly nc: NatsConnection;
  readonly runs: CollectorRuns;
  /**
   * A collector of its own (subjects, stream, Redis prefix) on the file's single Redis applies
   * `events`: published, then drained (at most 30 s). Its run, for reading what it stored.
   */
  applyAll(events: readonly AnyEvent[]): Promise<CollectorRun>;
}

/** Call inside a describe block; the getters throw until its beforeAll ran. */
export function useCollectorServers(consumer: string): CollectorServers {
  let nats: RunningServer | undefined;
  let redis: RunningServer | undefined;
  let nc: NatsConnection | undefined;
  const started = <T>(x: T | undefined, what: string): T => {
    if (x === undefined) throw new Error(`${what} not started: use it inside the describe's tests`);
    return x;
  };
  const runs = collectorRuns(() => started(nats, 'nats-server').url, consumer);
  beforeAll(async () => {
    [nats, redis] = await Promise.all([startNatsServer(), startRedisServer()]);
    nc = await natsClient(nats);
  }, 60_000);
  afterAll(async () => {
    await runs.stopAll();
    await nc?.close();
    await Promise.all([nats?.stop(), redis?.stop()]);
  });
  return {
    get nats() {
      return started(nats, 'nats-server');
    },
    get redis() {
      return started(redis, 'redis-server');
    },
    get nc() {
      return started(nc, 'the NATS client');
    },
    runs,
    async applyAll(events) {
      // A stream per run, each reserving its max bytes from the server's store: 1 GiB by default
      // ran out (JetStream error 10047) past 60 streams on this machine's disk.
      const run = await runs.start({
        REDIS_URL: started(redis, 'redis-server').url,
        DRAINWATCH_STREAM_MAX_BYTES: '16m',
      });
      await publishAll(started(nc, 'the NATS client'), events, run.root);
      await run.collector.drain(30_000);
      return run;
    },
  };
}
