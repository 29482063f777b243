import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import type { AnyEvent } from '../contract/index.js';
import { createLogger, type Logger } from '../lib/log.js';
import {
  createRedisClient,
  describeRedisTarget,
  type RedisClient,
  type RedisTarget,
  waitForRedis,
} from '../lib/redis.js';
import { onClusterMasterLost } from '../lib/redis-slot-map.js';
import { formatHostPort, splitUrlList } from '../lib/values.js';
import { createApplier } from './apply.js';
import { type CollectorConfig, collectorRedisTarget } from './config.js';
import { drainCollector } from './drain.js';
import {
  CollectorPortInUseError,
  CollectorStateError,
  NatsUnavailableError,
  RedisUnavailableError,
} from './errors.js';
import { createHistory, type History, type RebuildResult } from './history.js';
import { createHttpApp } from './http.js';
import { type Clock, createIngest, type Ingest } from './ingest.js';
import { createLease } from './lease.js';
import { createCollectorMetrics } from './metrics.js';
import { createRecovery, type Recovery } from './recovery.js';
import { createRedisHealth } from './redis-health.js';
import { createReportStore, type ReportStore } from './store.js';
import { createRolloutTracer } from './tracing.js';
import { createRolloutUpkeep } from './upkeep.js';

export interface CollectorDeps {
  /** prom-client registry for the collector's metrics (a fresh one by default). */
  readonly registry?: Registry;
  /** An open NATS connection; left open by stop(). */
  readonly nats?: NatsConnection;
  /** A Redis client (or Redis Cluster client); its keyPrefix is the collector's prefix. Left open by stop(). */
  readonly redis?: RedisClient;
  readonly clock?: Clock;
  readonly log?: Logger;
  /** Called with events applied for the first time (not redeliveries), and when. */
  readonly onApplied?: (events: readonly AnyEvent[], appliedAtMs: number) => void;
  /** Called after Redis state was rebuilt from the stream (Redis had lost its data). */
  readonly onRebuilt?: (result: RebuildResult) => void;
}

export interface Collector {
  start(): Promise<{ http: AddressInfo }>;
  stop(): Promise<void>;
  ready(): boolean;
  /**
   * Resolves once the consumer has nothing pending, everything fetched was applied and acked, and
   * no rebuild or replay from the stream (after Redis lost data) is running; on a Redis Cluster,
   * also after a slot-map read begun once that was so showed no master change still to replay.
   * Throws DrainTimeoutError (what was still running) after `timeoutMs` (ms).
   */
  drain(timeoutMs: number): Promise<void>;
  /** The report reader over the collector's Redis (valid after start). */
  readonly store: ReportStore;
  readonly registry: Registry;
}

export function createCollector(config: CollectorConfig, deps: CollectorDeps = {}): Collector {
  const registry = deps.registry ?? new Registry();
  const clock = deps.clock ?? { now: () => Date.now() };
  // Without an injected logger, warnings and errors still reach stderr as text.
  const log = deps.log ?? createLogger({ name: 'collector', level: 'warn', format: 'text' });
  const metrics = createCollectorMetrics(registry, { podSeriesExpiryMs: config.podSeriesExpiryMs });
  const tracer = createRolloutTracer({
    endpoint: config.otlpEndpoint,
    tracesEndpoint: config.otlpTracesEndpoint,
    protocol: config.otlpProtocol,
  });

  let nc: NatsConnection | undefined;
  let redis: RedisClient | undefined;
  let store: ReportStore | undefined;
  let ingest: Ingest | undefined;
  let history: History | undefined;
  let recovery: Recovery | undefined;
  let server: Server | undefined;
  let redisUp = false;
  let natsUp = false;
  let started: Promise<{ http: AddressInfo }> | undefined;
  let stopping: Promise<void> | undefined;
  // Refreshes, quiet sweeps and the reports of closed rollouts (upkeep.ts).
  const upkeep = createRolloutUpkeep(config, {
    metrics,
    tracer,
    clock,
    log,
    isStopping: () => stopping !== undefined,
  });
  const { onNotes } = upkeep;

  const setRedis = (up: boolean) => {
    // Our own disconnect at stop() is not an outage worth a warning.
    if (up !== redisUp && !stopping) {
      if (up) log.info('Redis up');
      else log.warn('Redis down; events wait in the stream until it answers');
      // A Redis that came back may have come back empty, or without its last writes (recovery.ts).
      if (up && history) void history.check();
      if (up) void recovery?.restored();
      else recovery?.lost();
    }
    redisUp = up;
    metrics.health.redisUp.set(up ? 1 : 0);
  };
  const setNats = (up: boolean) => {
    if (up !== natsUp && !stopping) {
      if (up) log.info('NATS up');
      else log.warn('NATS down; reconnecting');
    }
    natsUp = up;
    metrics.health.natsUp.set(up ? 1 : 0);
  };

  async function connectAll(): Promise<void> {
    if (deps.nats) nc = deps.nats;
    else {
      try {
        nc = await connect({
          // Several servers of a cluster: the client picks one and fails over to the others.
          servers: splitUrlList(config.natsUrl),
          name: 'drainwatch-collector',
          maxReconnectAttempts: -1,
          // A dependency error is reported within 5 s (docs/architecture.md §3).
          timeout: 5000,
        });
      } catch (err) {
        throw new NatsUnavailableError(
          `cannot connect to NATS at ${config.natsUrl}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    }
    setNats(!nc.isClosed());
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') setNats(false);
        else if (s.type === 'reconnect') setNats(true);
      }
    })().catch(() => {});

    const target: RedisTarget = collectorRedisTarget(config);
    redis = deps.redis ?? createRedisClient(target, { prefix: config.redisPrefix, failFast: true });
    redis.on('error', () => {
      // Reconnection is ioredis's job; failed commands are counted where they fail.
    });
    redis.on('ready', () => setRedis(true));
    redis.on('close', () => setRedis(false));
    // Writes a Redis Cluster master acknowledged may be lost with the client still up (a crashed
    // or demoted master): the replay retries until the slots have a master.
    onClusterMasterLost(redis, (why) => {
      if (stopping || !recovery) return;
      log.info({ reason: why }, 'Redis Cluster changed masters; replaying recently acknowledged events');
      recovery.lost();
      void recovery.restored();
    });
    if (!deps.redis) {
      try {
        await waitForRedis(redis, describeRedisTarget(target));
      } catch (err) {
        throw new RedisUnavailableError((err as Error).message, { cause: err });
      }
    }
    setRedis(redis.status === 'ready');
  }

  async function begin(): Promise<{ http: AddressInfo }> {
    await connectAll();
    store = createReportStore(redis!);
    const applier = createApplier(redis!, { retentionSeconds: config.retentionSeconds });
    // A holder that stopped renewing loses the lease after three refreshes.
    const lease = createLease(redis!, { ttlMs: 3 * config.refreshIntervalMs });
    ingest = createIngest(config, {
      nats: nc!,
      applier,
      metrics,
      clock,
      log,
      onRedisState: setRedis,
      onNotes,
      onBatchApplied: (msgs) => {
        recovery?.acked(msgs);
        let max = 0;
        for (const m of msgs) if (m.seq > max) max = m.seq;
        history?.applied(max);
      },
      ...(deps.onApplied ? { onApplied: deps.onApplied } : {}),
    });
    const replaying = ingest;
    history = createHistory(config, {
      nats: nc!,
      redis: redis!,
      log,
      apply: (msgs) => replaying.applyReplayed(msgs),
      ...(deps.onRebuilt ? { onRebuilt: deps.onRebuilt } : {}),
    });
    const checked = history;
    recovery = createRecovery(config, {
      nats: nc!,
      clock,
      log,
      metrics,
      check: () => checked.check(),
      apply: (msgs) => replaying.applyAgain(msgs),
      settled: () => replaying.settled(),
    });
    upkeep.attach({ store, applier, ingest, history, recovery, lease });
    try {
      // Before consuming: a Redis that lost its data is rebuilt first (or marked fresh).
      await history.check();
      await ingest.start();
    } catch (err) {
      throw new NatsUnavailableError(
        `cannot set up JetStream stream ${config.stream}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    const app = createHttpApp({
      store,
      registry,
      ready: () => {
        const failure = ingest?.failure();
        return {
          ready: redisUp && natsUp && !stopping && failure === undefined,
          redis: redisUp,
          nats: natsUp,
          ...(failure !== undefined ? { failure } : {}),
        };
      },
      redisAlive: createRedisHealth(redis!).alive,
      apiToken: config.apiToken,
      gate: config.gate,
    });
    server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(config.listen.port, config.listen.host, (err?: Error) =>
        err ? reject(new CollectorPortInUseError(formatHostPort(config.listen), err)) : resolve(s),
      );
    });
    upkeep.startRefreshing();
    const http = server.address() as AddressInfo;
    log.info(
      { listen: `${http.address}:${http.port}`, stream: config.stream, consumer: config.consumer },
      'collector started',
    );
    return { http };
  }

  return {
    registry,
    get store() {
      if (!store) throw new CollectorStateError('the collector has not started');
      return store;
    },
    start() {
      if (stopping) return Promise.reject(new CollectorStateError('the collector was stopped'));
      started ??= begin();
      return started;
    },
    stop() {
      stopping ??= (async () => {
        upkeep.stopTimers();
        await started?.catch(() => {});
        await ingest?.stop();
        await recovery?.stop();
        await upkeep.settled();
        if (server) {
          server.closeAllConnections();
          await new Promise<void>((resolve) => server!.close(() => resolve()));
        }
        await tracer.stop();
        if (!deps.nats && nc) await nc.close().catch(() => {});
        if (!deps.redis && redis) redis.disconnect();
      })();
      return stopping;
    },
    ready() {
      return Boolean(started) && !stopping && redisUp && natsUp;
    },
    async drain(timeoutMs) {
      if (!ingest) throw new CollectorStateError('the collector has not started');
      await drainCollector(
        { ingest, redis, replaying: () => Boolean(history?.rebuilding || recovery?.replaying) },
        timeoutMs,
      );
      await upkeep.reported();
    },
  };
}
