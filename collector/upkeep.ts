import type { Logger } from '../lib/log.js';
import { MAX_TIMER_DELAY_MS } from '../lib/wait.js';
import type { Applier } from './apply.js';
import type { CollectorConfig } from './config.js';
import type { History } from './history.js';
import type { Clock, Ingest } from './ingest.js';
import type { Lease } from './lease.js';
import type { CollectorMetrics } from './metrics.js';
import type { RolloutNote } from './ops.js';
import type { Recovery } from './recovery.js';
import type { ReportStore } from './store.js';
import type { RolloutTracer } from './tracing.js';

// What the collector does besides consuming events (collector.ts wires both): the periodic
// refresh (quiet closes, workload gauges from stored state, pod-series expiry, consumer lag), the
// quiet sweep armed at each rollout's quiet deadline, and the report of each closed rollout
// (counters, the trace, the lease holder's gauges).

/** Retry delay (ms) of a quiet sweep that found events still being applied at a deadline. */
const SWEEP_RETRY_MS = 1000;

/** Rollout ids whose close this process reported, remembered (oldest dropped first). */
const REPORTED_MAX = 10_000;

export interface UpkeepDeps {
  readonly metrics: CollectorMetrics;
  readonly tracer: RolloutTracer;
  readonly clock: Clock;
  readonly log: Logger;
  /** True once the collector is stopping: no refresh or sweep starts, no sweep is armed. */
  readonly isStopping: () => boolean;
}

/** The collector's parts the upkeep reads and drives, all made at once when it starts. */
export interface UpkeepParts {
  readonly store: ReportStore;
  readonly applier: Applier;
  readonly ingest: Ingest;
  readonly history: History;
  readonly recovery: Recovery;
  readonly lease: Lease;
}

export interface RolloutUpkeep {
  /** For the ingest: rollouts its batches opened (arms their quiet deadline) and closed (reports them). */
  readonly onNotes: (notes: readonly RolloutNote[]) => void;
  /** Hands over the parts; before it, refreshes and sweeps do nothing. */
  attach(parts: UpkeepParts): void;
  /** Refreshes every config.refreshIntervalMs from now on, and once at once. */
  startRefreshing(): void;
  /** Clears the refresh and quiet-deadline timers. */
  stopTimers(): void;
  /** Resolves once the refresh or sweep running now, then every closed rollout's report, ended. */
  settled(): Promise<void>;
  /** Resolves once the report of every rollout closed so far was made (failures are logged). */
  reported(): Promise<void>;
}

export function createRolloutUpkeep(config: CollectorConfig, deps: UpkeepDeps): RolloutUpkeep {
  const { metrics, tracer, clock, log } = deps;
  let parts: UpkeepParts | undefined;
  let timer: NodeJS.Timeout | undefined;
  /** The quiet-deadline timer, and when it fires (ms since the epoch; null when disarmed). */
  let sweepTimer: NodeJS.Timeout | undefined;
  let nextSweepAt: number | null = null;
  let closeChain: Promise<void> = Promise.resolve();
  let refreshing: Promise<void> | undefined;
  /** Per workload, the rollout whose report set this process's score gauges. */
  const scored = new Map<string, string>();
  /**
   * Rollouts whose close this process reported. Events applied again after a Redis loss
   * (recovery.ts) close again a rollout whose close Redis lost; this process reported that close
   * when its own script made it, so it is not counted twice.
   */
  const reported = new Set<string>();

  async function onClosed(id: string): Promise<void> {
    if (reported.has(id)) return;
    const report = await parts!.store.getReport(id);
    if (!report) return;
    reported.add(id);
    if (reported.size > REPORTED_MAX) reported.delete(reported.values().next().value!);
    // Counters and the trace: once, by the replica whose script closed the rollout.
    metrics.recordClosed(report, clock.now());
    tracer.record(report);
    // Workload gauges: by the lease holder only (a replica without it exports none).
    if (parts!.lease.held) {
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
    if (deps.isStopping() || !parts) return refreshing ?? Promise.resolve();
    if (refreshing) return queue ? refreshing.then(() => exclusive(job, queue)) : refreshing;
    refreshing = job().finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  }

  async function refreshOnce(): Promise<void> {
    if (!parts) return;
    try {
      // Redis may have restarted empty while no event arrived to notice it.
      await parts.history.check();
      // A replay that failed (NATS unreachable then) is tried again; it runs on its own.
      void parts.recovery.retryFailed();
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
    const { ingest, applier, history, recovery } = parts!;
    const { pending, ackPending } = await ingest.pending();
    metrics.health.consumerPending.set(pending);
    // Closing for quiet only when caught up: after an outage, the backlog may hold the activity.
    // ackPending counts what another replica fetched and has not applied yet (ours is 0 when
    // idle): a replica lagging by more than the quiet timeout would otherwise see the rollout
    // it is still applying closed under it, and its events open a second one.
    // A replay after a Redis loss may bring back the activity that keeps a rollout open.
    const replaying = history.rebuilding || recovery.replaying;
    if (pending === 0 && ackPending === 0 && ingest.idle() && !replaying) {
      const { closed, nextDeadlineMs } = await applier.sweep(clock.now(), config.rolloutQuietMs);
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
    if (at === null || deps.isStopping()) return;
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
    if (!parts) return;
    const { store, lease } = parts;
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

  return {
    onNotes,
    attach(p) {
      parts = p;
    },
    startRefreshing() {
      // Quiet closes do not wait for it: sweeps are also armed at each rollout's quiet deadline.
      timer = setInterval(() => void refresh(), config.refreshIntervalMs);
      timer.unref();
      void refresh();
    },
    stopTimers() {
      if (timer) clearInterval(timer);
      if (sweepTimer) clearTimeout(sweepTimer);
    },
    async settled() {
      await refreshing;
      await closeChain;
    },
    reported: () => closeChain,
  };
}
