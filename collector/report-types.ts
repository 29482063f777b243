import type { Cause, Phase, ProbeError, StreamEnd, WebSocketOutcome } from '../contract/index.js';
import type { EventData } from '../contract/validate.js';
import type { GrpcFigures } from './report-grpc.js';

// The shapes of the report of one rollout (docs/architecture.md §5), and of the stored facts it is computed from.

export type RolloutOutcome = 'open' | 'complete' | 'failed' | 'aborted' | 'timeout';
export type FailurePhase = Phase | 'unknown';

export const PROBE_ERROR_KINDS = [
  '5xx',
  'reset',
  'refused',
  'timeout',
  'unauthorized',
  'identity-mismatch',
  'other',
] as const satisfies readonly ProbeError[];

export interface Distribution {
  readonly samples: number;
  readonly p50Ms: number | null;
  readonly maxMs: number | null;
}

/**
 * Probe request latency of the rollout window, exact: nearest-rank percentiles (the smallest
 * sample with at least N% of the samples at or below it) over every probe request's own duration
 * (`probe.request` durationMs: first attempt, from sending until the response body ended or the
 * request failed), failed requests included; nulls without samples.
 */
export interface LatencyDistribution {
  /** Equal to probeRequests.total. */
  readonly samples: number;
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
}

export interface PodTermination {
  readonly pod: string;
  readonly instance: string;
  readonly clean: boolean;
  /**
   * Why it is not clean: failed-requests, in-flight-cut, websocket-close, stream-cut, killed-at-grace. Not
   * clean with no reason: no verdict (its closing events never arrived), left out of the score.
   */
  readonly uncleanReasons: readonly string[];
  readonly startedAt: string;
  readonly prestopMs: number | null;
  readonly prestopReason: string | null;
  readonly sigtermAt: string | null;
  readonly stoppedListeningAt: string | null;
  readonly exitedAt: string | null;
  readonly drainMs: number | null;
  readonly exitCode: number | null;
  readonly killedAtGrace: boolean;
  readonly inFlightAtSigterm: number;
  readonly inFlightCut: number;
  readonly lateArrivals: number;
  readonly websocketCloses: Readonly<Record<string, number>>;
  /** The same closes by outcome (docs/collector.md, "Counting rules"). */
  readonly websocketOutcomes: Readonly<Record<WebSocketOutcome, number>>;
  /** Probe streams (SSE, gRPC) this pod served that ended once its termination began, by how. */
  readonly streamEnds: Readonly<Record<StreamEnd, number>>;
  /** Pushes the probes' streams lost after this pod's last one, from its termination's start on. */
  readonly messagesLost: number;
  /** Failed probe requests of the rollout (not its baseline) this pod is at fault for. */
  readonly failedProbeRequests: number;
  readonly endpointPropagationMs: number | null;
  readonly evidenceIncomplete: boolean;
}

export interface FailureRecord {
  readonly probeId: string;
  readonly sessionId: string;
  readonly kind: string;
  readonly route: string;
  readonly time: string;
  readonly error: string;
  readonly status: number | null;
  readonly pod: string | null;
  readonly phase: FailurePhase;
  readonly cause: Cause;
  /** It failed before the first pod's termination: a baseline defect, not the rollout's. */
  readonly beforeRollout: boolean;
}

export interface GateVerdict {
  readonly score: 'sessionPersistence';
  readonly threshold: number;
  readonly value: number | null;
  readonly passed: boolean;
  /** Why the run cannot be judged (it never passes); absent when it can. */
  readonly inconclusive?: string;
  /** Why the gate failed besides the threshold (e.g. sessions lost before the rollout); absent when none. */
  readonly reasons?: readonly string[];
}

/** What went wrong before the first pod terminated: the app's own defects, not the rollout's. */
export interface BaselineDefects {
  /** When the first pod's termination started (the rollout proper began); null when none did. */
  readonly rolloutBeganAt: string | null;
  readonly requests: number;
  readonly failed: number;
  /** Sums to `failed`. */
  readonly failedByCause: Readonly<Record<Cause, number>>;
  readonly sessionsLost: number;
  /** Sums to `sessionsLost`. */
  readonly sessionsLostByCause: Readonly<Record<Cause, number>>;
}

export interface RolloutReport {
  readonly rolloutId: string;
  readonly namespace: string;
  readonly workload: string;
  /** rehearse, verify, kubernetes, cli, or implicit (opened by the first preStop). */
  readonly trigger: string;
  readonly outcome: RolloutOutcome;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly durationSeconds: number | null;
  readonly podsReplaced: number;
  readonly scores: {
    readonly sessionPersistence: number | null;
    readonly requestSuccess: number | null;
    readonly cleanTerminations: number | null;
  };
  /** Sessions alive when the rollout began (seen, not lost in the baseline), and those it lost. */
  readonly sessions: {
    readonly active: number;
    readonly lost: number;
    readonly lostByCause: Readonly<Record<Cause, number>>;
  };
  readonly baseline: BaselineDefects;
  /** Probe requests of the rollout (from the first pod's termination on). */
  readonly probeRequests: {
    readonly total: number;
    readonly ok: number;
    readonly failed: number;
    readonly retriedOk: number;
  };
  /** Failed probe requests of the rollout by cause; sums to probeRequests.failed. */
  readonly failedByCause: Readonly<Record<Cause, number>>;
  /** Failed probe requests by the pod phase at arrival (unknown when no pod saw it). */
  readonly failedByPhase: Readonly<Record<FailurePhase, number>>;
  /** Errors seen by probe clients (5xx, resets, ...); sums to probeRequests.failed. */
  readonly clientErrors: Readonly<Record<ProbeError, number>>;
  /** Requests (all traffic, from the agents' drain summaries) running in the app at SIGTERM. */
  readonly inFlightAtSigterm: number;
  /** Of those, the ones that did not complete (all traffic, agents). */
  readonly inFlightCut: number;
  /**
   * Probe requests a pod accepted and lost when its app exited or reset the connection: the
   * rollout's failures of cause cut-in-flight or killed-at-grace.
   */
  readonly inFlightLost: number;
  readonly lateArrivals: number;
  /** Kubelet health and readiness checks the agents saw, apart from every other figure. */
  readonly healthChecks: { readonly requests: number; readonly failed: number };
  /** Non-probe traffic the agents saw fail during the window, by phase (from traffic summaries). */
  readonly agentFailedRequests: Readonly<Record<Phase, number>>;
  readonly agentEventsDropped: number;
  readonly endpointPropagation: Distribution;
  /** Latency of the rollout's probe requests (the same requests as probeRequests), in ms. */
  readonly latency: LatencyDistribution;
  readonly prestop: Distribution & { readonly byReason: Readonly<Record<string, number>> };
  readonly drain: Distribution;
  /** Agent-side WebSocket closes during terminations by code; "none" = no close frame. */
  readonly websocketCloses: Readonly<Record<string, number>>;
  /** WebSockets by outcome: agent-side at terminations, and the probes' own. */
  readonly websocketOutcomes: {
    readonly atTermination: Readonly<Record<WebSocketOutcome, number>>;
    readonly probe: Readonly<Record<WebSocketOutcome, number>>;
  };
  /** Probe WebSockets that ended with 1006 (no close frame). */
  readonly websocketsDropped: number;
  readonly messagesLost: number;
  /** Lost messages the probes sent again after reconnecting; apart from the losses. */
  readonly messagesResent: number;
  /** Subscription pushes the probes received more than once; apart from the losses. */
  readonly messagesDuplicated: number;
  /** The probes' SSE streams that ended without the probe closing them: `server-closed`, `cut`. */
  readonly streamEnds: Readonly<Record<StreamEnd, number>>;
  /** The same streams' ends during pod terminations, matched to the pod that served them (the terminations' sum). */
  readonly streamEndsAtTermination: Readonly<Record<StreamEnd, number>>;
  /** Of messagesLost, the pushes lost after a terminating pod's last one (the terminations' sum). */
  readonly messagesLostAtTermination: number;
  /** gRPC calls and streams of the probes (report-grpc.ts); absent when no probe spoke gRPC. */
  readonly grpc?: GrpcFigures;
  /**
   * Probe request rate of the busiest pod ÷ the quietest, each over the time it served (see
   * report-skew.ts); else the probes' own figure; null without either.
   */
  readonly trafficSkew: number | null;
  readonly stickyRouting: boolean;
  readonly terminations: readonly PodTermination[];
  /** Every failed probe request with its cause, oldest first (at most MAX_FAILURES_LISTED). */
  readonly failures: readonly FailureRecord[];
  readonly failuresTruncated: boolean;
  /** Pods whose event seq had a gap: their part of this report may be incomplete. */
  readonly evidenceIncomplete: readonly string[];
  /** Why the run cannot be judged (a probe was overloaded); null when it can. */
  readonly inconclusive: string | null;
  /** Figures that do not reconcile (report-invariants.ts); empty in a sound report. */
  readonly invariantViolations: readonly string[];
  readonly gate?: GateVerdict;
}

export const MAX_FAILURES_LISTED = 500;

// ---- stored facts, as the store reads them ----

export interface RolloutRecord {
  readonly id: string;
  readonly namespace: string;
  readonly workload: string;
  readonly trigger: string;
  readonly startedAt: number;
  readonly finishedAt: number | null;
  readonly outcome: string | null;
  readonly podsReplaced: number | null;
}

/**
 * An event as stored, by kind (not CloudEvents type). Facts are plain data, from Redis or built by
 * a test: the report reads `data` through the contract's schema of `kind` (report-data.ts dataOf).
 */
export interface StoredPodEvent {
  readonly id: string;
  readonly kind: string;
  readonly time: string;
  readonly instance: string;
  readonly seq: number;
  readonly data: unknown;
}

export interface StoredProbeEvent {
  readonly id: string;
  readonly kind: string;
  readonly time: string;
  readonly data: unknown;
}

export type AgentRequestRecord = EventData<'request'> & {
  readonly pod: string;
  readonly instance: string;
  readonly time: string;
};

export interface StoredTraffic {
  readonly pod: string;
  readonly time: string;
  readonly data: EventData<'traffic.summary'>;
}

export interface ReportFacts {
  readonly rollout: RolloutRecord;
  /** Terminations that started in the window: pod, agent instance, start (ms). */
  readonly terminations: readonly { pod: string; instance: string; startMs: number }[];
  /** Earliest termination start (ms) of every pod of the workload, for "was the issuer gone?". */
  readonly terminationStartByPod: ReadonlyMap<string, number>;
  readonly timelines: ReadonlyMap<string, readonly StoredPodEvent[]>;
  /** Per pod: `<instance>|n` and `<instance>|max`. */
  readonly seqs: ReadonlyMap<string, Readonly<Record<string, string>>>;
  readonly probes: readonly StoredProbeEvent[];
  readonly agentRequests: ReadonlyMap<string, AgentRequestRecord>;
  /** Per session: its logins, oldest first (ms, issuing pod). */
  readonly logins: ReadonlyMap<string, readonly { atMs: number; issuedBy: string | null }[]>;
  readonly traffic: readonly StoredTraffic[];
}
