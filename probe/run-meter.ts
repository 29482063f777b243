import { performance } from 'node:perf_hooks';
import type { ResolvedProbeConfig } from './config.js';
import { emptyCounters, type ProbeContext, type ProbeCounters } from './context.js';
import { createLatencyRecorder, type LatencyRecorder } from './latency.js';
import { createLagWatch, type LagWatch } from './loop-lag.js';
import type { RunEvents } from './run-events.js';
import { createSkewTracker, type SessionPods, type StickyVerdict, skewRatio } from './skew.js';
import type { Clock, ProbeSnapshot, ProbeSummary } from './types.js';

// What a run measures, apart from how it runs (run.ts): the counters its sessions write, request
// latency, the per-pod skew and sticky routing, the request rate and the probe's own loop lag.

export interface RunMeterDeps {
  readonly config: ResolvedProbeConfig;
  readonly clock: Clock;
  /** The run's sessions; the run fills this array at start. */
  readonly sessions: readonly { readonly pods: SessionPods }[];
  readonly rampSettled: () => boolean;
  /** True while the run runs: started and not stopped. */
  readonly running: () => boolean;
  readonly events: Pick<RunEvents, 'published' | 'dropped'>;
}

export interface RunMeter {
  readonly counters: ProbeCounters;
  /** The ProbeContext callbacks that feed latency, per-pod counts and affinity detection. */
  readonly hooks: Pick<ProbeContext, 'recordLatency' | 'answeredBy' | 'cookiesSet'>;
  /** Marks the run's start: elapsed time and loop-lag sampling count from now. */
  begin(): void;
  /**
   * One progress interval: samples the loop lag, the request rate and the skew window, then hands
   * a snapshot to the progress listeners.
   */
  tick(): void;
  /** ProbeRun.onProgress: `cb` gets the snapshot of each tick; returns the unsubscribe function. */
  onProgress(cb: (snapshot: ProbeSnapshot) => void): () => void;
  /** The last measurement, taken before shutting down; stops the loop-lag monitor. */
  end(): void;
  snapshot(): ProbeSnapshot;
  /** The snapshot with the whole run's figures (start and end time, ratios, latency). */
  summary(): ProbeSummary;
}

export function createRunMeter(deps: RunMeterDeps): RunMeter {
  const { config, clock } = deps;
  const counters = emptyCounters();
  const latency = createLatencyRecorder();
  const skew = createSkewTracker(config.skewWindowMs, clock, {
    extra: config.scenario.sticky.cookies,
    sessionCookie: config.scenario.login.cookie,
  });
  const lag = createLagWatch(config.lagThresholdMs, deps.rampSettled);
  let startedAt = 0;
  let startedPerf = 0;
  let lastTick = { at: 0, requests: 0 };
  let rps = 0;
  const listeners = new Set<(s: ProbeSnapshot) => void>();

  const elapsed = (): number => (startedPerf ? performance.now() - startedPerf : 0);

  function snapshot(): ProbeSnapshot {
    const verdict = skew.verdict(
      deps.sessions.map((s) => s.pods),
      Object.keys(counters.perPod).length,
    );
    return snapshotOf(config, counters, {
      verdict,
      elapsedMs: Math.round(elapsed()),
      requestsPerSecond: rps,
      skewRatio: skew.ratio(),
      maxSkewRatio: skew.max ?? (elapsed() < config.skewWindowMs ? skewRatio(counters.perPod) : null),
      lag,
      ramping: deps.running() && !deps.rampSettled(),
      eventsPublished: deps.events.published(),
      eventsDropped: deps.events.dropped(),
    });
  }

  return {
    counters,
    hooks: {
      recordLatency(durationMs) {
        latency.record(durationMs);
      },
      answeredBy(pod) {
        counters.perPod[pod] = (counters.perPod[pod] ?? 0) + 1;
        skew.record(pod);
      },
      cookiesSet: skew.cookiesSet,
    },
    begin() {
      startedAt = clock.now();
      startedPerf = performance.now();
      lag.start();
    },
    tick() {
      lag.sample();
      const now = performance.now();
      rps = lastTick.at ? ((counters.requests - lastTick.requests) * 1000) / (now - lastTick.at) : 0;
      lastTick = { at: now, requests: counters.requests };
      skew.evaluate(elapsed());
      if (listeners.size > 0) {
        const s = snapshot();
        for (const cb of listeners) cb(s);
      }
    },
    onProgress(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    end() {
      lag.sample();
      skew.evaluate(elapsed());
      lag.stop();
    },
    snapshot,
    summary: () => summaryOf(snapshot(), { maxSkew: skew.max, startedAt, clock, latency }),
  };
}

/** What a snapshot shows besides the counters, measured when it is taken. */
interface Measured {
  readonly verdict: StickyVerdict;
  readonly elapsedMs: number;
  readonly requestsPerSecond: number;
  readonly skewRatio: number | null;
  readonly maxSkewRatio: number | null;
  readonly lag: LagWatch;
  readonly ramping: boolean;
  readonly eventsPublished: number;
  readonly eventsDropped: number;
}

function snapshotOf(config: ResolvedProbeConfig, c: ProbeCounters, m: Measured): ProbeSnapshot {
  return {
    runId: config.runId,
    target: config.target.origin,
    elapsedMs: m.elapsedMs,
    sessions: config.sessions,
    sessionsStarted: c.sessionsStarted,
    sessionsActive: c.sessionsActive,
    sessionsOk: c.sessionsStarted - c.sessionsLost,
    sessionsLost: c.sessionsLost,
    losses: c.losses,
    lossesByReason: { ...c.lossesByReason },
    requests: c.requests,
    failed: c.failed,
    retried: c.retried,
    retriedOk: c.retriedOk,
    requestsPerSecond: m.requestsPerSecond,
    errorsByKind: { ...c.errorsByKind },
    perPod: { ...c.perPod },
    skewRatio: m.skewRatio,
    maxSkewRatio: m.maxSkewRatio,
    runSkewRatio: skewRatio(c.perPod),
    sticky: m.verdict.sticky,
    stickyReason: m.verdict.reason,
    connections: { new: c.connectionsNew, reused: c.connectionsReused },
    websockets: {
      sessions: c.wsSessions,
      connections: c.wsConnections,
      open: c.wsOpen,
      connectFailures: c.wsConnectFailures,
      messagesSent: c.messagesSent,
      messagesAcked: c.messagesAcked,
      messagesLost: c.messagesLost,
      resent: c.resent,
      messagesReceived: c.messagesReceived,
      messagesDuplicated: c.messagesDuplicated,
      streamEnds: { ...c.streamEnds },
      disconnectReasons: { ...c.disconnectReasons },
      disconnectCauses: { ...c.disconnectCauses },
      closesByCode: { ...c.closesByCode },
    },
    loopLagMs: Math.round(m.lag.lastMs),
    maxLoopLagMs: Math.round(m.lag.maxMs),
    ramping: m.ramping,
    rampMaxLoopLagMs: Math.round(m.lag.rampMaxMs),
    unreliable: m.lag.unreliableReason !== null,
    unreliableReason: m.lag.unreliableReason,
    eventsPublished: m.eventsPublished,
    eventsDropped: m.eventsDropped,
  };
}

/** A run's last snapshot with the whole run's figures; `startedAt` 0 when the run never started. */
function summaryOf(
  s: ProbeSnapshot,
  run: { maxSkew: number | null; startedAt: number; clock: Clock; latency: LatencyRecorder },
): ProbeSummary {
  return {
    ...s,
    // A run shorter than one window has no full window: its whole-run ratio is the best estimate.
    maxSkewRatio: run.maxSkew ?? s.runSkewRatio,
    startedAt: new Date(run.startedAt || run.clock.now()).toISOString(),
    endedAt: new Date(run.clock.now()).toISOString(),
    sessionPersistence: s.sessionsStarted ? s.sessionsOk / s.sessionsStarted : null,
    requestSuccess: s.requests ? (s.requests - s.failed) / s.requests : null,
    latency: run.latency.summary(),
  };
}
