import { Registry } from 'prom-client';
import {
  type Collector,
  collectorRedisTarget,
  createCollector,
  loadCollectorConfig,
} from '../../collector/index.js';
import { createLogger } from '../../lib/log.js';
import { connectRedisClient, type RedisClient } from '../../lib/redis.js';
import { type LogCapture, lineSink } from './log-lines.js';
import { type TestNamespace, testNamespace } from './servers.js';

// One in-process collector on its own namespace (subjects, stream, Redis prefix), configured from
// the environment as `drainwatch collector` is, with a Redis client on the same target: the
// Redis Cluster and Sentinel tests start one per Redis form and compare their reports.

export interface CollectorRun {
  readonly collector: Collector;
  /** A client of the collector's own Redis target (single, Cluster or Sentinel), its prefix set. */
  readonly redis: RedisClient;
  readonly root: string;
  readonly prefix: string;
  readonly registry: Registry;
  /** The collector's log lines (JSON, level info and up). */
  readonly log: LogCapture;
}

/**
 * Starts a collector with `redisEnv` (REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINEL_NODES, ...)
 * and a quiet timeout of 1000 days (rollouts close only when the tests say so). Throws what the
 * collector's start throws. The caller stops the collector and disconnects the client.
 */
export async function startCollectorRun(options: {
  readonly natsUrl: string;
  readonly consumer: string;
  readonly redisEnv: Readonly<Record<string, string>>;
  readonly ns?: TestNamespace;
}): Promise<CollectorRun> {
  const ns = options.ns ?? testNamespace();
  const config = loadCollectorConfig(
    {},
    {
      DRAINWATCH_LISTEN: '127.0.0.1:0',
      NATS_URL: options.natsUrl,
      DRAINWATCH_REDIS_PREFIX: ns.redisPrefix,
      DRAINWATCH_SUBJECT_ROOT: ns.subjectRoot,
      DRAINWATCH_STREAM: ns.streamName,
      DRAINWATCH_CONSUMER: options.consumer,
      DRAINWATCH_ROLLOUT_QUIET: '1000d',
      ...options.redisEnv,
    },
  );
  const redis = await connectRedisClient(collectorRedisTarget(config), { prefix: ns.redisPrefix });
  const registry = new Registry();
  const sink = lineSink();
  const log = createLogger({ name: 'collector', level: 'info', format: 'json', write: sink.write });
  const collector = createCollector(config, { registry, log });
  await collector.start();
  return { collector, redis, root: ns.subjectRoot, prefix: ns.redisPrefix, registry, log: sink.capture };
}

/** The collector runs of one test file, each on the file's NATS and consumer, stopped together. */
export interface CollectorRuns {
  /** startCollectorRun with the file's NATS URL and consumer; `ns` as there. */
  start(redisEnv: Readonly<Record<string, string>>, ns?: TestNamespace): Promise<CollectorRun>;
  /** Stops every run's collector and disconnects its client, in start order. */
  stopAll(): Promise<void>;
}

/**
 * Runs started through `start()` are kept for `stopAll()` (the file's afterAll). `natsUrl` is read
 * at each start: the file's beforeAll starts the server after this is created.
 */
export function collectorRuns(natsUrl: () => string, consumer: string): CollectorRuns {
  const runs: CollectorRun[] = [];
  return {
    async start(redisEnv, ns) {
      const run = await startCollectorRun({ natsUrl: natsUrl(), consumer, redisEnv, ...(ns ? { ns } : {}) });
      runs.push(run);
      return run;
    },
    async stopAll() {
      for (const r of runs.splice(0)) {
        await r.collector.stop();
        r.redis.disconnect();
      }
    },
  };
}
