import type { Phase } from '../contract/index.js';
import type { AppExitedReport } from './admin.js';
import type { PrestopLimits, PrestopResult } from './prestop.js';
import { TerminationMachine } from './termination-machine.js';
import type { Clock, Scheduler } from './time.js';
import type { DrainCounts, Emit, Traffic } from './traffic.js';

// The pod's termination as the agent witnesses it: serving → prestop (termination started) →
// draining (the app has SIGTERM) → exited. Inputs arrive in any order — the preStop hook, the
// agent's own SIGTERM, the app closing its port, the app's exit — and this module decides the
// phase, the lifecycle events (emitted in the order decided here; the publisher buffers them
// while NATS is down) and what the agent's SIGTERM waits for. No sockets and no NATS: time comes
// from the injected clock and scheduler, the app from a view the agent's app watch provides.
// This file is the machine's contract; termination-machine.ts is how it decides.

/** How the app's exit was seen: the parent's report, the port closing for good, or the pid gone. */
export type ExitDetector = 'process' | 'port' | 'pid';

/** The app as the agent's app watch sees it. */
export interface WatchedApp {
  /** The port accepted a connection at least once. */
  readonly everListened: boolean;
  /** The port accepted at the last check. */
  readonly listening: boolean;
  /** Checks the port once, now. */
  checkNow(): Promise<void>;
}

/** The part of the traffic counters the termination reads, and the phase it moves. */
export type TerminationTraffic = Pick<
  Traffic,
  'phase' | 'setPhase' | 'inFlight' | 'websockets' | 'tcpOpen' | 'arrivals' | 'lastArrivalAt'
>;

/** Where the termination's span gets its marks (agent/tracing.ts); both no-ops without tracing. */
export interface TerminationTrace {
  begin(phase: string): void;
  event(name: string, attributes: Record<string, string | number | boolean>): void;
}

export interface TerminationOptions {
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly emit: Emit;
  readonly traffic: TerminationTraffic;
  /** Undefined until the agent started watching the app. */
  readonly app: () => WatchedApp | undefined;
  /** Open TCP connections from the agent to the app (pooled, busy or WebSocket). */
  readonly upstreamConnections: () => number;
  /** terminationGracePeriodSeconds of the pod, in seconds. */
  readonly graceSeconds: number;
  readonly prestop: PrestopLimits;
  /** The Kubernetes adapter's seam: resolves once the pod's endpoints are marked terminating. */
  readonly endpointsTerminating?: (signal: AbortSignal) => Promise<void>;
  readonly trace: TerminationTrace;
  /** Called after each phase change (the app watch polls faster from then on). */
  readonly onPhase: (phase: Phase) => void;
}

export interface SigtermOptions {
  /** Skip the classic-sidecar wait for the app to stop listening (tests, a second signal). */
  readonly immediate?: boolean;
}

export interface Termination {
  /** The pod's phase now (held by the traffic counters, moved only by this machine). */
  readonly phase: Phase;
  /** The app's exit was seen, however. */
  readonly exited: boolean;
  /** How the preStop wait ended; null until it did. */
  readonly prestopResult: PrestopResult | null;
  /** sigterm() was called (the app watch polls fast from then on). */
  readonly sigtermSeen: boolean;
  /** The preStop hook was called: resolves when the app may get SIGTERM. Repeated calls share one wait. */
  prestop(): Promise<PrestopResult>;
  /** The app's port refused after having accepted (reported once by the app watch). */
  appStoppedListening(): void;
  /** The app exited; `at` (clock ms) defaults to now. Only the first report counts. */
  appExited(detectedBy: ExitDetector, report: AppExitedReport, at?: number): void;
  /**
   * The agent got SIGTERM: emits `sigterm`, then, if the app still runs (a classic sidecar), waits
   * until it stopped listening and its in-flight requests ended, or until 2 s before the end of
   * the grace period. Resolves once a preStop wait still running has ended too. Later calls return
   * the first call's promise.
   */
  sigterm(options: SigtermOptions): Promise<void>;
  /** Ends the classic-sidecar wait now (a second signal). */
  cutWait(): void;
  /** Cancels the timers of the port-exit fallback. */
  stop(): void;
  /** Emits `drain.summary` from the traffic's drain counts and this timeline. */
  emitDrainSummary(counts: DrainCounts, eventsDropped: number): void;
}

/** The termination state machine of one pod; see Termination for its inputs. */
export function createTermination(options: TerminationOptions): Termination {
  return new TerminationMachine(options);
}
