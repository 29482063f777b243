import type { EntryActivity } from '../cluster/local/entry-activity.js';
import type { ThresholdVerdict } from '../witness/thresholds.js';

// What one rehearsal run shows, reduced from the collector's full report to the figures the
// side-by-side table prints; `--json` prints these with the full report attached.

export interface RunSettings {
  readonly app: string;
  readonly replicas: number;
  readonly balance: string;
  /** The entry point: local, nginx or haproxy. */
  readonly entry: string;
  readonly propagation: string;
  readonly graceSeconds: number;
  readonly prestop: string;
  readonly userMix: string;
  readonly sidecar: string;
}

export interface GateResult {
  readonly score: 'sessionPersistence';
  readonly threshold: number;
  readonly value: number | null;
  readonly passed: boolean;
  /** Why the run cannot be judged; absent when it can. */
  readonly inconclusive?: string;
  /** Why it failed besides the threshold (sessions lost before the rollout); absent when none. */
  readonly reasons?: readonly string[];
}

/** A gRPC run's figures (report.grpc, plus where the calls went once the rollout was over). */
export interface GrpcRunFigures {
  readonly calls: number;
  readonly unavailable: number;
  readonly failedByStatus: Readonly<Record<string, number>>;
  readonly retried: number;
  readonly retriedOk: number;
  /** Probe server streams the server cut, and the cause of each (collector/report-grpc.ts). */
  readonly streamsCut: number;
  readonly streamsCutByCause: Readonly<Record<string, number>>;
  /** Streams the server ended with OK (drained): the probe resumed them elsewhere. */
  readonly streamsDrained: number;
  /** Busiest ÷ quietest of the pods running after the rollout, by calls started after it; null when one got none. */
  readonly skewAfterRollout: number | null;
  /** Pods running after the rollout, and how many of them answered a call then. */
  readonly podsAfterRollout: number;
  readonly podsAnsweringAfterRollout: number;
}

export interface RehearsalRun {
  readonly label: string;
  readonly rolloutId: string;
  readonly settings: RunSettings;
  readonly outcome: string;
  /** What the entry point did: retries, upstream errors, endpoint changes and their apply times. */
  readonly entry: EntryActivity;
  readonly durationSeconds: number | null;
  readonly podsReplaced: number;
  readonly probeRequests: { readonly total: number; readonly failed: number; readonly retriedOk: number };
  /** Failed ÷ total probe requests, as a percentage; null without requests. */
  readonly failurePct: number | null;
  readonly sessions: { readonly active: number; readonly lost: number };
  readonly sessionPersistence: number | null;
  readonly requestSuccess: number | null;
  readonly cleanTerminations: number | null;
  /** Probe requests cut in flight by an app's exit or reset (causes cut-in-flight + killed-at-grace). */
  readonly inFlightLost: number;
  /** Requests of all traffic in flight at SIGTERM that did not complete, as the agents counted them. */
  readonly inFlightCutAllTraffic: number;
  /** What failed before the first pod terminated: the app's own defects (report.baseline). */
  readonly baseline: {
    readonly failed: number;
    readonly requests: number;
    readonly sessionsLost: number;
    readonly failedByCause: Readonly<Record<string, number>>;
    readonly sessionsLostByCause: Readonly<Record<string, number>>;
  };
  /** Kubelet/readiness checks the agents saw, apart from every failure figure. */
  readonly healthChecks: { readonly requests: number; readonly failed: number };
  /** WebSockets at pod termination by outcome (agent-side; the probes' own without an agent). */
  readonly websocketOutcomes: Readonly<Record<string, number>>;
  readonly lateArrivals: number;
  /** WebSocket closes the probes saw, by code (1006 = no close frame). */
  readonly websocketCloses: Readonly<Record<string, number>>;
  readonly messagesLost: number;
  /** Probe SSE and gRPC streams that ended during a pod's termination, by how: `server-closed`, `cut`. */
  readonly streamEnds: Readonly<Record<string, number>>;
  /** Of messagesLost, those lost after a terminating pod's last push (its streams' gaps). */
  readonly messagesLostAtTermination: number;
  /** Lost messages the probes sent again after reconnecting (not counted as lost twice). */
  readonly messagesResent: number;
  readonly failedByCause: Readonly<Record<string, number>>;
  readonly sessionsLostByCause: Readonly<Record<string, number>>;
  /** Busiest ÷ quietest pod's request rate, each over the time it served. */
  readonly trafficSkew: number | null;
  /** Busiest ÷ quietest pod before the rollout, every pod up: what the balancing itself does. */
  readonly steadySkew: number | null;
  readonly stickyRouting: boolean;
  readonly prestopP50Ms: number | null;
  /** Latency of the rollout's probe requests (report.latency), in ms. */
  readonly latency: {
    readonly p50Ms: number | null;
    readonly p95Ms: number | null;
    readonly p99Ms: number | null;
  };
  readonly propagationMaxMs: number | null;
  /** Why the probe's own figures may be off (event-loop lag), or null. */
  readonly unreliable: string | null;
  /** Why the run cannot be judged (report.inconclusive, else the probe's unreliability), or null. */
  readonly inconclusive: string | null;
  readonly gate?: GateResult;
  /** The `--threshold`s judged on this run's report (the judged run only). */
  readonly thresholds?: ThresholdVerdict;
  /** `--protocol grpc` runs only. */
  readonly grpc?: GrpcRunFigures;
  /** The collector's report, as its API returns it. */
  readonly report?: unknown;
}

/** Busiest ÷ quietest of `pods` by their count in `calls`; null when one of them has none (or no pod). */
export function skewOver(pods: readonly string[], calls: Readonly<Record<string, number>>): number | null {
  const n = pods.map((p) => calls[p] ?? 0);
  if (n.length === 0 || Math.min(...n) === 0) return null;
  return Math.max(...n) / Math.min(...n);
}

export function failurePct(total: number, failed: number): number | null {
  return total > 0 ? (100 * failed) / total : null;
}

export function gateOf(run: Pick<RehearsalRun, 'sessionPersistence'>, threshold: number): GateResult {
  const value = run.sessionPersistence;
  return { score: 'sessionPersistence', threshold, value, passed: value !== null && value >= threshold };
}
