import { CAUSES, type Cause, type ProbeError } from '../contract/index.js';
import { eventsOf, zeroes } from './report-data.js';
import type { PodLife, PodLives } from './report-lives.js';
import type { AgentRequestRecord, ReportFacts } from './report-types.js';

// gRPC in the report (docs/grpc.md): the probes' calls by status, the retries, the server streams
// cut and why, where the calls went once the rollout was over, and the evidence the `no-goaway`
// and `stuck-connection` causes rest on: the agent's word on whether a GOAWAY reached the client
// before a connection closed with streams open (the request event's `goaway`).

/** gRPC status UNAVAILABLE: what a client sees when its connection is gone (grpc.io status codes). */
const UNAVAILABLE = 14;

/**
 * How long after a pod's exit a failed call that reached no pod is still the reconnect of a
 * connection that pod cut (ms): grpc-js's first reconnect backoff is 1 s ± 20 % (gRPC's
 * connection-backoff.md), then ×1.6; three attempts fit in 5 s.
 */
export const RECONNECT_WINDOW_MS = 5000;

/** How a pod's HTTP/2 connections that closed with streams open were ended, per the agent. */
export interface GoawayEvidence {
  /** Streams cut by a connection close after a GOAWAY had gone to the client. */
  readonly withGoaway: number;
  readonly withoutGoaway: number;
}

/** Per pod: the agent's h2 records of streams ended by their connection's close. */
export function goawayEvidence(facts: ReportFacts): ReadonlyMap<string, GoawayEvidence> {
  const out = new Map<string, { withGoaway: number; withoutGoaway: number }>();
  for (const a of facts.agentRequests.values()) {
    if (a.protocol !== 'h2' || a.goaway === undefined) continue;
    const e = out.get(a.pod) ?? { withGoaway: 0, withoutGoaway: 0 };
    if (a.goaway) e.withGoaway += 1;
    else e.withoutGoaway += 1;
    out.set(a.pod, e);
  }
  return out;
}

/**
 * The cause of an h2 stream cut at its pod's exit without a GOAWAY first: `stuck-connection` when
 * it started after the pod's termination began on a connection opened before (per-connection
 * balancing kept the client on the old pod; a per-request balancer would have sent the call
 * elsewhere), else `no-goaway`. Undefined when a GOAWAY went first or the agent could not tell.
 */
export function h2CutCause(agent: AgentRequestRecord, life: PodLife | undefined): Cause | undefined {
  if (agent.protocol !== 'h2' || agent.goaway !== false) return undefined;
  const termStart = life ? (life.prestopStartMs ?? life.sigtermMs) : null;
  const late = termStart !== null && Date.parse(agent.startedAt) >= termStart;
  return late && agent.connection === 'reused' ? 'stuck-connection' : 'no-goaway';
}

/**
 * A gRPC call that failed UNAVAILABLE without reaching a pod, within RECONNECT_WINDOW_MS of the exit
 * of the pod its session last talked to, whose connections the agent saw closed with streams open
 * and no GOAWAY: the channel was reconnecting after that cut (`no-goaway`). Undefined otherwise.
 */
export function reconnectCause(
  call: { readonly startedAt: string; readonly error?: ProbeError; readonly grpcStatus?: number },
  lastPod: string | undefined,
  lives: PodLives,
  evidence: ReadonlyMap<string, GoawayEvidence>,
): Cause | undefined {
  if (call.grpcStatus !== UNAVAILABLE || lastPod === undefined) return undefined;
  const exited = lives.lifeOf(lastPod)?.exitedMs ?? null;
  const t = Date.parse(call.startedAt);
  if (exited === null || t < exited || t - exited > RECONNECT_WINDOW_MS) return undefined;
  const e = evidence.get(lastPod);
  return e && e.withoutGoaway > 0 && e.withGoaway === 0 ? 'no-goaway' : undefined;
}

/** The probes' gRPC calls and streams over the rollout (report.grpc). */
export interface GrpcFigures {
  /** gRPC calls the probes made in the rollout window (first attempts). */
  readonly calls: number;
  /** Of those, the ones that ended UNAVAILABLE. */
  readonly unavailable: number;
  /** Non-OK statuses by code (`"14"`), first attempts. */
  readonly failedByStatus: Readonly<Record<string, number>>;
  /** Failed calls the probes sent once more, and how many of those succeeded. */
  readonly retried: number;
  readonly retriedOk: number;
  /** Server streams the server cut (any status but OK), by cause. */
  readonly streamsCutByCause: Readonly<Record<Cause, number>>;
  /** Calls started after the last old pod's exit, by the pod that answered: where clients settled. */
  readonly callsByPodAfterRollout: Readonly<Record<string, number>>;
}

/** report.grpc; null when no probe made a gRPC call. */
export function grpcFigures(
  facts: ReportFacts,
  lives: PodLives,
  rolloutBeganMs: number | null,
  cutCause: (agent: AgentRequestRecord | undefined, life: PodLife | undefined) => Cause,
): GrpcFigures | null {
  const calls = eventsOf(facts.probes, 'probe.request').filter((e) => e.data.grpcStatus !== undefined);
  if (calls.length === 0) return null;
  // Once the last old pod is gone every client holds a connection to a new pod.
  const exits = [...lives.terminated.values()].map((l) => l.exitedMs).filter((t): t is number => t !== null);
  const afterMs = exits.length > 0 ? Math.max(...exits) : facts.rollout.finishedAt;
  const failedByStatus: Record<string, number> = {};
  const callsByPodAfterRollout: Record<string, number> = {};
  let total = 0;
  let unavailable = 0;
  let retried = 0;
  let retriedOk = 0;
  for (const { data: d } of calls) {
    const t = Date.parse(d.startedAt);
    if (afterMs !== null && t >= afterMs && d.pod)
      callsByPodAfterRollout[d.pod] = (callsByPodAfterRollout[d.pod] ?? 0) + 1;
    if (rolloutBeganMs !== null && t + d.durationMs < rolloutBeganMs) continue;
    total += 1;
    if (d.grpcStatus === UNAVAILABLE) unavailable += 1;
    if (d.grpcStatus !== 0)
      failedByStatus[String(d.grpcStatus)] = (failedByStatus[String(d.grpcStatus)] ?? 0) + 1;
    if (d.retry) {
      retried += 1;
      if (d.retry.ok) retriedOk += 1;
    }
  }
  const streamsCutByCause = zeroes(CAUSES);
  for (const { data: w } of eventsOf(facts.probes, 'probe.websocket')) {
    if (w.transport !== 'grpc' || w.event !== 'stream-ended' || w.end !== 'cut') continue;
    // The probe sends its stream's connection id as the call's probe id: the agent's record of it.
    const agent = facts.agentRequests.get(w.connectionId);
    streamsCutByCause[cutCause(agent, lives.lifeOf(agent?.pod ?? w.pod, agent?.instance))] += 1;
  }
  return {
    calls: total,
    unavailable,
    failedByStatus,
    retried,
    retriedOk,
    streamsCutByCause,
    callsByPodAfterRollout,
  };
}
