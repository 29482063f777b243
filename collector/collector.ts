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
import { formatHostPort, splitUrlList } from '../lib/values.js';
import { pollUntil } from '../lib/wait.js';
import { type Applier, createApplier } from './apply.js';
import { type CollectorConfig, collectorRedisTarget } from './config.js';
import {
  CollectorPortInUseError,
  CollectorStateError,
  DrainTimeoutError,
  NatsUnavailableError,
  RedisUnavailableError,
} from './errors.js';
import { createHistory, type History, type RebuildResult } from './history.js';
import { createHttpApp } from './http.js';
import { type Clock, createIngest, type Ingest } from './ingest.js';
import { createLease, type Lease } from './lease.js';
import { createCollectorMetrics } from './metrics.js';
import type { RolloutNote } from './ops.js';
import { createRedisHealth } from './redis-health.js';
import { createReportStore, type ReportStore } from './store.js';
import { createRolloutTracer } from './tracing.js';

/** setTimeout's largest delay (a signed 32-bit ms count, Node's timers doc). */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** Retry delay (ms) of a quiet sweep that found events still being applied at a deadline. */
const SWEEP_RETRY_MS = 1000;

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
  /** Resolves once the consumer has nothing pending and everything fetched was applied and acked. */
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
  let applier: Applier | undefined;
  let ingest: Ingest | undefined;
  let history: History | undefined;
  let server: Server | undefined;
  let timer: NodeJS.Timeout | undefined;
  /** The quiet-deadline timer, and when it fires (ms since the epoch; null when disarmed). */
  let sweepTimer: NodeJS.Timeout | undefined;
  let nextSweepAt: number | null = null;
  let redisUp = false;
  let natsUp = false;
  let started: Promise<{ http: AddressInfo }> | undefined;
  let stopping: Promise<void> | undefined;
  let closeChain: Promise<void> = Promise.resolve();
  let refreshing: Promise<void> | undefined;
  /** Per workload, the rollout whose report set this process's score gauges. */
  const scored = new Map<string, string>();
  let lease: Lease | undefined;

  const setRedis = (up: boolean) => {
    // Our own disconnect at stop() is not an outage worth a warning.
    if (up !== redisUp && !stopping) {
      if (up) log.info('Redis up');
      else log.warn('Redis down; events wait in the stream until it answers');
      // A Redis that came back may have come back empty.
      if (up && history) void history.check();
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

  async function onClosed(id: string): Promise<void> {
    const report = await store!.getReport(id);
    if (!report) return;
    // Counters and the trace: once, by the replica whose script closed the rollout.
    metrics.recordClosed(report, clock.now());
    tracer.record(report);
    // Workload gauges: by the lease holder only (a replica without it exports none).
    if (lease?.held) {
      metrics.setLatest(report, config.gate);
      scored.set(`${report.namespace}/${report.workload}`, report.rolloutId);
    }
  }

  function onNotes(notes: readonly RolloutNote[]): void {
    for (const { kind, rolloutId: id } of notes) {
      if (kind === 'opened') {
        // Its quiet deadline is at the latest one quiet timeout from now: a sweep then is on time
        // whatever the refresh interval (it re-arms from the real last activity).
        const at = clock.now() + config.rolloutQuietMs + 1;
        if (nextSweepAt === null || at < nextSweepAt) scheduleSweep(at);
      }
      if (kind !== 'closed') continue;
      closeChain = closeChain
        .then(() => onClosed(id))
        .catch((err) =>
          log.error({ rolloutId: id, error: (err as Error).message }, 'reporting a closed rollout failed'),
        );
    }
  }

  /** Quiet-timeout closes, gauges from stored state, expiry of pod series, consumer lag. */
  function refresh(): Promise<void> {
    return exclusive(refreshOnce, false);
  }

  /**
   * Runs `job` unless a refresh or sweep runs: then skips it (`queue` false) or runs it once that
   * one ended (`queue` true: a quiet deadline must not be missed because a refresh was running).
   */
  function exclusive(job: () => Promise<void>, queue: boolean): Promise<void> {
    if (stopping || !store || !redis || !ingest) return refreshing ?? Promise.resolve();
    if (refreshing) return queue ? refreshing.then(() => exclusive(job, queue)) : refreshing;
    refreshing = job().finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  }

  async function refreshOnce(): Promise<void> {
    if (!store || !redis || !ingest) return;
    try {
      // Redis may have restarted empty while no event arrived to notice it.
      await history?.check();
      await sweepQuiet();
      await refreshWorkloadGauges();
      metrics.expirePodSeries(clock.now());
    } catch (err) {
      metrics.health.redisErrors.inc();
      log.error({ error: (err as Error).message }, 'refresh failed');
    }
  }

  /**
   * Closes the rollouts quiet for longer than the quiet timeout, and schedules the next sweep at
   * the earliest deadline of those still open, so a rollout closes on time whatever the refresh
   * interval (docs/scaling.md).
   */
  async function sweepQuiet(): Promise<void> {
    const { pending, ackPending } = await ingest!.pending();
    metrics.health.consumerPending.set(pending);
    // Closing for quiet only when caught up: after an outage, the backlog may hold the activity.
    // ackPending counts what another replica fetched and has not applied yet (ours is 0 when
    // idle): a replica lagging by more than the quiet timeout would otherwise see the rollout
    // it is still applying closed under it, and its events open a second one.
    if (pending === 0 && ackPending === 0 && ingest!.idle() && !history?.rebuilding) {
      const { closed, nextDeadlineMs } = await applier!.sweep(clock.now(), config.rolloutQuietMs);
      onNotes(closed.map((rolloutId) => ({ kind: 'closed', rolloutId })));
      scheduleSweep(nextDeadlineMs);
    } else if (nextSweepAt !== null && nextSweepAt <= clock.now()) {
      // A deadline passed while events were still being applied: look again shortly.
      scheduleSweep(clock.now() + Math.min(SWEEP_RETRY_MS, config.refreshIntervalMs));
    }
  }

  /** Arms the deadline timer for `at` (ms since the epoch), or disarms it (null). */
  function scheduleSweep(at: number | null): void {
    if (sweepTimer) clearTimeout(sweepTimer);
    sweepTimer = undefined;
    nextSweepAt = at;
    if (at === null || stopping) return;
    sweepTimer = setTimeout(
      () =>
        void exclusive(async () => {
          try {
            await sweepQuiet();
          } catch (err) {
            metrics.health.redisErrors.inc();
            log.error({ error: (err as Error).message }, 'quiet sweep failed');
          }
        }, true),
      // Node fires a longer delay at once (TimeoutOverflowWarning) and the sweep would re-arm it in
      // a 1 ms loop; an early sweep closes nothing and arms the timer again for what is left.
      Math.min(MAX_TIMER_DELAY_MS, Math.max(0, at - clock.now())),
    );
    sweepTimer.unref();
  }

  /**
   * The workload gauges, by the lease holder alone: what is open now (cheap, every time) and the
   * latest scores, from the report of each workload's newest closed rollout, computed again only
   * when that rollout changed (another replica may have closed it). A replica that loses the
   * lease drops its gauges, so two replicas never export the same workload's gauges.
   */
  async function refreshWorkloadGauges(): Promise<void> {
    if (!store || !lease) return;
    const wasHeld = lease.held;
    if (!(await lease.renew())) {
      if (wasHeld || scored.size > 0) {
        metrics.clearWorkloadGauges();
        scored.clear();
      }
      return;
    }
    for (const s of await store.workloadStatus()) {
      metrics.setOpen(s.namespace, s.workload, s.openRolloutId !== null, s.terminating);
      const key = `${s.namespace}/${s.workload}`;
      const [latest] = (
        await store.listRollouts({ namespace: s.namespace, workload: s.workload, limit: 5 })
      ).filter((r) => r.outcome !== 'open');
      if (!latest || scored.get(key) === latest.rolloutId) continue;
      const report = await store.getReport(latest.rolloutId);
      if (!report) continue;
      metrics.setLatest(report, config.gate);
      scored.set(key, latest.rolloutId);
    }
  }

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
    applier = createApplier(redis!, { retentionSeconds: config.retentionSeconds });
    // A holder that stopped renewing loses the lease after three refreshes.
    lease = createLease(redis!, { ttlMs: 3 * config.refreshIntervalMs });
    ingest = createIngest(config, {
      nats: nc!,
      applier,
      metrics,
      clock,
      log,
      onRedisState: setRedis,
      onNotes,
      onBatchApplied: (seq) => history?.applied(seq),
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
      ready: () => ({ ready: redisUp && natsUp && !stopping, redis: redisUp, nats: natsUp }),
      redisAlive: createRedisHealth(redis!).alive,
      apiToken: config.apiToken,
      gate: config.gate,
    });
    server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(config.listen.port, config.listen.host, (err?: Error) =>
        err ? reject(new CollectorPortInUseError(formatHostPort(config.listen), err)) : resolve(s),
      );
    });
    // Quiet closes do not wait for it: sweeps are also armed at each rollout's quiet deadline.
    timer = setInterval(() => void refresh(), config.refreshIntervalMs);
    timer.unref();
    void refresh();
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
        if (timer) clearInterval(timer);
        if (sweepTimer) clearTimeout(sweepTimer);
        await started?.catch(() => {});
        await ingest?.stop();
        await refreshing;
        await closeChain;
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
      let last = 'not checked';
      try {
        await pollUntil(
          async () => {
            const p = await ingest!.pending();
            last = `${p.pending} pending, ${p.ackPending} awaiting ack, ${ingest!.idle() ? 'idle' : 'applying'}`;
            return p.pending === 0 && p.ackPending === 0 && ingest!.idle();
          },
          { timeoutMs, intervalMs: 50, what: 'the collector to catch up', fatal: () => false },
        );
      } catch {
        throw new DrainTimeoutError(timeoutMs, last);
      }
      await closeChain;
    },
  };
}
