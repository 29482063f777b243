import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { EventKind } from '../contract/index.js';
import { createEventSequencer, type EventData } from '../contract/validate.js';
import { publishEvent } from '../lib/jetstream.js';
import { canConnect } from '../lib/servers.js';
import { type ProbeConfig, resolveProbeConfig } from './config.js';
import { emptyCounters, type ProbeContext } from './context.js';
import { ProbeStateError, TargetUnreachableError } from './errors.js';
import { loadGrpcService } from './grpc-client.js';
import { createProbeGrpcSession } from './grpc-session.js';
import { createLatencyRecorder } from './latency.js';
import { createLoopLagMonitor, type LoopLagMonitor } from './loop-lag.js';
import { createEventPublisher, type EventPublisher } from './publisher.js';
import { createProbeSession, type ProbeSession } from './session.js';
import { createSkewWindow, isAffinityCookie, skewRatio, stickyVerdict } from './skew.js';
import { type Clock, type ProbeRun, type ProbeSnapshot, type ProbeSummary, SYSTEM_CLOCK } from './types.js';

export interface ProbeDeps {
  /** Where probe.* events go; without it nothing is published. */
  readonly nats?: NatsConnection;
  readonly clock?: Clock;
}

const FLUSH_TIMEOUT_MS = 5000;
const RAMP_TICK_MS = 10;
/** After the last session started, its login and first requests still belong to the ramp. */
const RAMP_SETTLE_MS = 2000;

/**
 * A probe run: `start()` checks the target and ramps the sessions up, `stop()` ends them and returns
 * the summary (also published as `probe.summary`). Repeated `stop()` returns the same promise.
 */
export function createProbeRun(input: ProbeConfig, deps: ProbeDeps = {}): ProbeRun {
  const config = resolveProbeConfig(input);
  const clock = deps.clock ?? SYSTEM_CLOCK;
  const counters = emptyCounters();
  const latency = createLatencyRecorder();
  const abort = new AbortController();
  // Every waiting session listens on this one signal.
  setMaxListeners(0, abort.signal);
  const window = createSkewWindow(config.skewWindowMs);
  const sequencer = createEventSequencer({
    namespace: config.namespace,
    workload: config.workload,
    pod: null,
  });
  const publisher: EventPublisher | undefined = deps.nats
    ? createEventPublisher(deps.nats, { root: config.subjectRoot, capacity: config.eventQueueSize })
    : undefined;
  let invalidEvents = 0;
  const listeners = new Set<(s: ProbeSnapshot) => void>();
  const sessions: ProbeSession[] = [];
  const running: Promise<void>[] = [];
  let affinityCookie: string | null = null;
  let maxSkew: number | null = null;
  let lag: LoopLagMonitor | undefined;
  let lastLagMs = 0;
  let maxLagMs = 0;
  let rampMaxLagMs = 0;
  /** performance.now() when the last session was launched; 0 while ramping. */
  let rampDoneAt = 0;
  let unreliableReason: string | null = null;
  let startedAt = 0;
  let startedPerf = 0;
  let lastTick = { at: 0, requests: 0 };
  let rps = 0;
  let tickTimer: NodeJS.Timeout | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let rampTimer: NodeJS.Timeout | undefined;
  let state: 'new' | 'running' | 'stopped' = 'new';
  let stopping: Promise<ProbeSummary> | undefined;

  const emit = <K extends EventKind>(kind: K, data: EventData<K>): void => {
    if (!publisher) return;
    try {
      publisher.offer(sequencer.next(kind, data));
    } catch {
      // An event the contract refuses (e.g. an oversize header echoed back) is counted, never thrown.
      invalidEvents += 1;
    }
  };

  const ctx: ProbeContext = {
    config,
    clock,
    counters,
    signal: abort.signal,
    publishing: publisher !== undefined,
    emit,
    recordLatency(durationMs) {
      latency.record(durationMs);
    },
    answeredBy(pod) {
      counters.perPod[pod] = (counters.perPod[pod] ?? 0) + 1;
      window.record(pod, clock.now());
    },
    cookiesSet(names) {
      if (affinityCookie) return;
      const opts = { extra: config.scenario.sticky.cookies, sessionCookie: config.scenario.login.cookie };
      affinityCookie = names.find((n) => isAffinityCookie(n, opts)) ?? null;
    },
  };

  const rampSettled = (): boolean => rampDoneAt > 0 && performance.now() - rampDoneAt >= RAMP_SETTLE_MS;

  const elapsed = (): number => (startedPerf ? performance.now() - startedPerf : 0);

  function snapshot(): ProbeSnapshot {
    const c = counters;
    const verdict = stickyVerdict(
      affinityCookie,
      sessions.map((s) => s.pods),
      Object.keys(c.perPod).length,
    );
    return {
      runId: config.runId,
      target: config.target.origin,
      elapsedMs: Math.round(elapsed()),
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
      requestsPerSecond: rps,
      errorsByKind: { ...c.errorsByKind },
      perPod: { ...c.perPod },
      skewRatio: window.ratio(clock.now()),
      maxSkewRatio: maxSkew ?? (elapsed() < config.skewWindowMs ? skewRatio(c.perPod) : null),
      runSkewRatio: skewRatio(c.perPod),
      sticky: verdict.sticky,
      stickyReason: verdict.reason,
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
      loopLagMs: Math.round(lastLagMs),
      maxLoopLagMs: Math.round(maxLagMs),
      ramping: state === 'running' && !rampSettled(),
      rampMaxLoopLagMs: Math.round(rampMaxLagMs),
      unreliable: unreliableReason !== null,
      unreliableReason,
      eventsPublished: publisher?.published ?? 0,
      eventsDropped: (publisher?.dropped ?? 0) + invalidEvents,
    };
  }

  function tick(): void {
    sampleLag();
    const now = performance.now();
    rps = lastTick.at ? ((counters.requests - lastTick.requests) * 1000) / (now - lastTick.at) : 0;
    lastTick = { at: now, requests: counters.requests };
    evaluateSkew();
    if (listeners.size > 0) {
      const s = snapshot();
      for (const cb of listeners) cb(s);
    }
  }

  function sampleLag(): void {
    if (!lag) return;
    lastLagMs = lag.sample();
    // The login storm of the ramp is reported apart: a rollout is measured after it.
    if (!rampSettled()) {
      rampMaxLagMs = Math.max(rampMaxLagMs, lastLagMs);
    } else if (lastLagMs > maxLagMs) {
      maxLagMs = lastLagMs;
    }
    if (rampSettled() && lastLagMs > config.lagThresholdMs && !unreliableReason) {
      unreliableReason = `probe event-loop lag reached ${Math.round(lastLagMs)} ms (> ${config.lagThresholdMs} ms): the probe itself was overloaded`;
    }
  }

  function evaluateSkew(): void {
    // Only full windows count toward the peak: a half-empty first window is noise, not skew.
    if (elapsed() < config.skewWindowMs) return;
    const r = window.ratio(clock.now());
    if (r !== null && (maxSkew === null || r > maxSkew)) maxSkew = r;
  }

  async function start(): Promise<void> {
    if (state !== 'new') throw new ProbeStateError(`start() called on a ${state} probe run`);
    // A proto that does not define the scenario's service is bad input: refused before any traffic.
    const grpcService = config.scenario.grpc ? loadGrpcService(config.scenario.grpc) : undefined;
    state = 'running';
    const host = config.target.hostname.replace(/^\[|\]$/g, '');
    const port = Number(config.target.port || (config.target.protocol === 'https:' ? 443 : 80));
    if (!(await canConnect(port, host, config.connectTimeoutMs))) {
      state = 'stopped';
      throw new TargetUnreachableError(
        `${config.target.hostname}:${port}`,
        `no TCP connection within ${config.connectTimeoutMs} ms`,
      );
    }
    startedAt = clock.now();
    startedPerf = performance.now();
    lag = createLoopLagMonitor();
    // The one timer left ref'ed: a started run holds the process open until stop(), as a listening
    // server does. Without it, while the target is down every session only sleeps on unref'ed
    // backoff timers, the loop empties, and `drainwatch probe` exits mid-run (code 13, no summary).
    tickTimer = setInterval(tick, config.progressIntervalMs);
    sweepTimer = setInterval(
      () => {
        const now = clock.now();
        for (const s of sessions) s.socket?.sweep(now);
      },
      Math.max(20, Math.min(250, config.wsAckTimeoutMs / 4)),
    );
    sweepTimer.unref();
    // WebSocket sessions are spread evenly among all sessions, so the ramp brings both up together.
    const wsEvery = config.websockets > 0 ? config.sessions / config.websockets : 0;
    let wsGiven = 0;
    for (let i = 0; i < config.sessions; i++) {
      const withWs = wsEvery > 0 && wsGiven < config.websockets && i >= Math.round(wsGiven * wsEvery);
      if (withWs) wsGiven += 1;
      sessions.push(
        grpcService && config.scenario.grpc
          ? createProbeGrpcSession(ctx, grpcService, config.scenario.grpc, i, withWs)
          : createProbeSession(ctx, i, withWs),
      );
    }
    // One ramp timer starts the sessions that are due, instead of a timer per session.
    let launched = 0;
    const rampStart = performance.now();
    const launchDue = (): void => {
      const due =
        config.rampMs > 0
          ? ((performance.now() - rampStart) / config.rampMs) * config.sessions
          : config.sessions;
      while (launched < Math.min(config.sessions, Math.floor(due) + 1) && !abort.signal.aborted) {
        running.push(sessions[launched]!.run());
        launched += 1;
      }
      if (launched >= config.sessions || abort.signal.aborted) {
        rampDoneAt ||= performance.now();
        if (rampTimer) clearInterval(rampTimer);
        rampTimer = undefined;
      }
    };
    rampTimer = setInterval(launchDue, RAMP_TICK_MS);
    rampTimer.unref();
    launchDue();
  }

  async function finish(): Promise<ProbeSummary> {
    // The last measurement is taken before shutting down: closing thousands of connections lags
    // the loop too, but no request is measured then.
    sampleLag();
    evaluateSkew();
    lag?.stop();
    abort.abort();
    if (rampTimer) clearInterval(rampTimer);
    for (const s of sessions) s.wake();
    await Promise.all(running);
    if (tickTimer) clearInterval(tickTimer);
    if (sweepTimer) clearInterval(sweepTimer);
    const s = snapshot();
    const summary: ProbeSummary = {
      ...s,
      // A run shorter than one window has no full window: its whole-run ratio is the best estimate.
      maxSkewRatio: maxSkew ?? s.runSkewRatio,
      startedAt: new Date(startedAt || clock.now()).toISOString(),
      endedAt: new Date(clock.now()).toISOString(),
      sessionPersistence: s.sessionsStarted ? s.sessionsOk / s.sessionsStarted : null,
      requestSuccess: s.requests ? (s.requests - s.failed) / s.requests : null,
      latency: latency.summary(),
    };
    let summaryPublished = 0;
    if (publisher && deps.nats) {
      await publisher.flush(FLUSH_TIMEOUT_MS);
      try {
        const event = sequencer.next('probe.summary', {
          runId: config.runId,
          sessions: summary.sessionsStarted,
          sessionsLost: summary.sessionsLost,
          requests: summary.requests,
          failed: summary.failed,
          retriedOk: summary.retriedOk,
          messagesSent: summary.websockets.messagesSent,
          messagesLost: summary.websockets.messagesLost,
          messagesResent: summary.websockets.resent,
          messagesDuplicated: summary.websockets.messagesDuplicated,
          skewRatio: summary.maxSkewRatio,
          sticky: summary.sticky,
          unreliable: summary.unreliable,
          maxLoopLagMs: summary.maxLoopLagMs,
        });
        await publishEvent(jetstream(deps.nats), event, {
          root: config.subjectRoot,
          timeoutMs: FLUSH_TIMEOUT_MS,
        });
        summaryPublished = 1;
      } catch {
        invalidEvents += 1;
      }
      return {
        ...summary,
        eventsPublished: publisher.published + summaryPublished,
        eventsDropped: publisher.dropped + invalidEvents,
      };
    }
    return summary;
  }

  return {
    start,
    stop() {
      if (!stopping) {
        state = 'stopped';
        stopping = finish();
      }
      return stopping;
    },
    snapshot,
    onProgress(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
  };
}
