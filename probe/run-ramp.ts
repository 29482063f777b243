import { performance } from 'node:perf_hooks';
import type { ProbeContext } from './context.js';
import type { loadGrpcService } from './grpc-client.js';
import { createProbeGrpcSession } from './grpc-session.js';
import { createProbeSession, type ProbeSession } from './session.js';

// A run's sessions: created all at once, launched evenly over --ramp, their WebSockets swept.

const RAMP_TICK_MS = 10;
/** After the last session started, its login and first requests still belong to the ramp. */
const RAMP_SETTLE_MS = 2000;

/**
 * Adds the run's `config.sessions` sessions to `sessions` (gRPC ones when the scenario has a gRPC
 * service), of which `config.websockets` keep a WebSocket, spread evenly so the ramp brings both up
 * together.
 */
export function addSessions(
  sessions: ProbeSession[],
  ctx: ProbeContext,
  grpcService: ReturnType<typeof loadGrpcService> | undefined,
): void {
  const { config } = ctx;
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
}

/**
 * Sweeps the sessions' WebSockets for messages past the ack timeout (`wsAckTimeoutMs`), every
 * quarter of it (20-250 ms); the timer is unref'ed.
 */
export function startSweep(
  sessions: readonly ProbeSession[],
  wsAckTimeoutMs: number,
  clock: { now(): number },
): NodeJS.Timeout {
  const timer = setInterval(
    () => {
      const now = clock.now();
      for (const s of sessions) s.socket?.sweep(now);
    },
    Math.max(20, Math.min(250, wsAckTimeoutMs / 4)),
  );
  timer.unref();
  return timer;
}

export interface Ramp {
  /** The promises of the sessions launched so far (each resolves once its session ended). */
  readonly running: readonly Promise<void>[];
  /** True once the last session was launched at least 2 s ago (or the run stopped ramping). */
  settled(): boolean;
  /** Launches no more sessions. */
  stop(): void;
}

/**
 * Launches `sessions` evenly over `rampMs` (all at once when 0), the first one now; stops early
 * when `signal` aborts.
 */
export function startRamp(sessions: readonly ProbeSession[], rampMs: number, signal: AbortSignal): Ramp {
  const running: Promise<void>[] = [];
  /** performance.now() when the last session was launched; 0 while ramping. */
  let doneAt = 0;
  let launched = 0;
  let timer: NodeJS.Timeout | undefined;
  const rampStart = performance.now();
  const launchDue = (): void => {
    const due = rampMs > 0 ? ((performance.now() - rampStart) / rampMs) * sessions.length : sessions.length;
    while (launched < Math.min(sessions.length, Math.floor(due) + 1) && !signal.aborted) {
      running.push(sessions[launched]!.run());
      launched += 1;
    }
    if (launched >= sessions.length || signal.aborted) {
      doneAt ||= performance.now();
      if (timer) clearInterval(timer);
      timer = undefined;
    }
  };
  // One ramp timer starts the sessions that are due, instead of a timer per session.
  timer = setInterval(launchDue, RAMP_TICK_MS);
  timer.unref();
  launchDue();
  return {
    running,
    settled: () => doneAt > 0 && performance.now() - doneAt >= RAMP_SETTLE_MS,
    stop() {
      if (timer) clearInterval(timer);
    },
  };
}
