import { setMaxListeners } from 'node:events';
import type { NatsConnection } from '@nats-io/transport-node';
import { canConnect } from '../lib/servers.js';
import { type ProbeConfig, type ResolvedProbeConfig, resolveProbeConfig } from './config.js';
import type { ProbeContext } from './context.js';
import { ProbeStateError, TargetUnreachableError } from './errors.js';
import { loadGrpcService } from './grpc-client.js';
import { createRunEvents } from './run-events.js';
import { createRunMeter } from './run-meter.js';
import { addSessions, type Ramp, startRamp, startSweep } from './run-ramp.js';
import type { ProbeSession } from './session.js';
import { type Clock, type ProbeRun, type ProbeSummary, SYSTEM_CLOCK } from './types.js';

// How a run runs: the target check, the sessions and their ramp, the progress and sweep timers,
// and the stop. What it measures and its progress snapshots are run-meter.ts; the events it
// publishes, run-events.ts.

export interface ProbeDeps {
  /** Where probe.* events go; without it nothing is published. */
  readonly nats?: NatsConnection;
  readonly clock?: Clock;
}

/**
 * A probe run: `start()` checks the target and ramps the sessions up, `stop()` ends them and returns
 * the summary (also published as `probe.summary`). Repeated `stop()` returns the same promise.
 */
export function createProbeRun(input: ProbeConfig, deps: ProbeDeps = {}): ProbeRun {
  const config = resolveProbeConfig(input);
  const clock = deps.clock ?? SYSTEM_CLOCK;
  const abort = new AbortController();
  // Every waiting session listens on this one signal.
  setMaxListeners(0, abort.signal);
  const events = createRunEvents(config, deps.nats);
  const sessions: ProbeSession[] = [];
  let ramp: Ramp | undefined;
  let tickTimer: NodeJS.Timeout | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let state: 'new' | 'running' | 'stopped' = 'new';
  let stopping: Promise<ProbeSummary> | undefined;
  const meter = createRunMeter({
    config,
    clock,
    sessions,
    rampSettled: () => ramp?.settled() ?? false,
    running: () => state === 'running',
    events,
  });
  const ctx: ProbeContext = {
    config,
    clock,
    counters: meter.counters,
    signal: abort.signal,
    publishing: events.publishing,
    emit: events.emit,
    ...meter.hooks,
  };

  async function start(): Promise<void> {
    if (state !== 'new') throw new ProbeStateError(`start() called on a ${state} probe run`);
    // A proto that does not define the scenario's service is bad input: refused before any traffic.
    const grpcService = config.scenario.grpc ? loadGrpcService(config.scenario.grpc) : undefined;
    state = 'running';
    const unreachable = await unreachableTarget(config);
    if (unreachable) {
      state = 'stopped';
      throw unreachable;
    }
    meter.begin();
    // The one timer left ref'ed: a started run holds the process open until stop(), as a listening
    // server does. Without it, while the target is down every session only sleeps on unref'ed
    // backoff timers, the loop empties, and `drainwatch probe` exits mid-run (code 13, no summary).
    tickTimer = setInterval(meter.tick, config.progressIntervalMs);
    sweepTimer = startSweep(sessions, config.wsAckTimeoutMs, clock);
    addSessions(sessions, ctx, grpcService);
    ramp = startRamp(sessions, config.rampMs, abort.signal);
  }

  async function finish(): Promise<ProbeSummary> {
    // The last measurement is taken before shutting down: closing thousands of connections lags
    // the loop too, but no request is measured then.
    meter.end();
    abort.abort();
    ramp?.stop();
    for (const s of sessions) s.wake();
    await Promise.all(ramp?.running ?? []);
    if (tickTimer) clearInterval(tickTimer);
    if (sweepTimer) clearInterval(sweepTimer);
    return events.finish(meter.summary());
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
    snapshot: meter.snapshot,
    onProgress: meter.onProgress,
  };
}

/** The error to throw when no TCP connection to the target opens within the connect timeout. */
async function unreachableTarget(config: ResolvedProbeConfig): Promise<TargetUnreachableError | undefined> {
  const host = config.target.hostname.replace(/^\[|\]$/g, '');
  const port = Number(config.target.port || (config.target.protocol === 'https:' ? 443 : 80));
  if (await canConnect(port, host, config.connectTimeoutMs)) return undefined;
  return new TargetUnreachableError(
    `${config.target.hostname}:${port}`,
    `no TCP connection within ${config.connectTimeoutMs} ms`,
  );
}
