import { CAUSES, type Cause, PHASES, type ProbeError } from '../contract/index.js';
import type { EventData } from '../contract/validate.js';
import { eventsOf, zeroes } from './report-data.js';
import { type GoawayEvidence, goawayEvidence, h2CutCause, reconnectCause } from './report-grpc.js';
import { type PodLife, type PodLives, phaseAt, reachedPod } from './report-lives.js';
import { latestLogin, type SessionTally, sessionCause } from './report-sessions.js';
import {
  type AgentRequestRecord,
  type FailurePhase,
  type FailureRecord,
  PROBE_ERROR_KINDS,
  type ReportFacts,
} from './report-types.js';

// Probe requests: how many succeeded, and for each one that failed, why (its cause), where (the
// pod and its phase at the time) and what the client saw (docs/architecture.md §5).

type ProbeRequest = EventData<'probe.request'>;

const SESSION_ERRORS: ReadonlySet<string> = new Set(['unauthorized', 'identity-mismatch']);

/** What the client saw: its own error, else 5xx for a 5xx status, else other. */
export function probeErrorOf(d: ProbeRequest): ProbeError {
  return d.error ?? (d.status !== undefined && d.status >= 500 ? '5xx' : 'other');
}

/** A failure of the session (refused credentials, another identity) rather than of the request. */
export function isSessionFailure(d: ProbeRequest): boolean {
  return SESSION_ERRORS.has(probeErrorOf(d)) || d.status === 401 || d.status === 403;
}

/**
 * A request no pod saw that died on a reused keep-alive connection before any response header:
 * the server side had closed the idle connection as the request went out (RFC 9112 §9.3.1: a
 * client may retry it when idempotent; browsers do). Evidence: the probe's `reset` on connection
 * `reused` with no status and no pod (the probe keeps both when headers came before a body broke).
 */
export function isStaleKeepAlive(d: ProbeRequest): boolean {
  return d.error === 'reset' && d.connection === 'reused' && d.status === undefined && d.pod === undefined;
}

/** The cause of a failed request the pod's agent saw, from the agent's record and the pod's life. */
export function agentCause(agent: AgentRequestRecord, life: PodLife | undefined): Cause {
  const exitedMs = life?.exitedMs ?? null;
  const started = Date.parse(agent.startedAt);
  const inFlightAtExit =
    agent.endPhase === 'exited' ||
    (exitedMs !== null && started <= exitedMs && started + agent.durationMs >= exitedMs);
  if (agent.outcome === 'upstream-refused' && agent.arrivalPhase !== 'serving') return 'late-arrival';
  if (agent.outcome === 'upstream-reset' || inFlightAtExit) {
    const killed = life?.exited?.killedAtGrace === true || life?.summary?.killedAtGrace === true;
    if (killed) return 'killed-at-grace';
    // HTTP/2: a connection closed under its streams with no GOAWAY first (report-grpc.ts).
    return h2CutCause(agent, life) ?? 'cut-in-flight';
  }
  return 'other';
}

/**
 * Whether a probe request belongs to the baseline: its whole exchange (sent at `startedAt`, answered
 * or failed `durationMs` later) ended before the first pod's termination began. One still in flight
 * then met the rollout (it may reach a pod already draining), so it counts in the rollout.
 */
export function inBaseline(d: ProbeRequest, rolloutBeganMs: number | null): boolean {
  return rolloutBeganMs !== null && Date.parse(d.startedAt) + d.durationMs < rolloutBeganMs;
}

/** What a gRPC call's failure is judged with besides its own event: its session's last pod, the agents' GOAWAY evidence. */
export interface GrpcContext {
  readonly lastPod: string | undefined;
  readonly evidence: ReadonlyMap<string, GoawayEvidence>;
}

/** One failed probe request, attributed; ended before `rolloutBeganMs` (null: never), it is a baseline defect. */
export function failureOf(
  d: ProbeRequest,
  facts: ReportFacts,
  lives: PodLives,
  rolloutBeganMs: number | null = null,
  grpc?: GrpcContext,
): FailureRecord {
  const t = Date.parse(d.startedAt);
  const agent = facts.agentRequests.get(d.probeId);
  let pod: string | null = agent?.pod ?? d.pod ?? null;
  const life = lives.lifeOf(pod, agent?.instance);
  const phase: FailurePhase = agent?.arrivalPhase ?? phaseAt(life, t);
  let cause: Cause;
  if (isSessionFailure(d)) {
    cause = sessionCause(facts, d.sessionId, t, undefined, agent?.pod ?? d.pod ?? null);
    // The dying pod that held the session is the one at fault, not the pod that answered.
    const login = cause === 'session-in-memory' ? latestLogin(facts, d.sessionId, t) : undefined;
    if (login) pod = login.issuedBy;
  } else if (agent) {
    cause = agentCause(agent, life);
  } else if (d.pod && life && reachedPod(life, t)) {
    // The response named a pod whose agent was up then: the request did reach it.
    cause = 'other';
  } else if (d.grpcStatus === undefined && isStaleKeepAlive(d)) {
    // (An HTTP/1.1 keep-alive race; a gRPC call's channel has no idle keep-alive close to race.)
    cause = 'stale-keepalive';
  } else {
    // A gRPC call lost while its channel reconnected after a cut without GOAWAY is that cut's.
    cause = (grpc && reconnectCause(d, grpc.lastPod, lives, grpc.evidence)) ?? 'never-reached-pod';
  }
  return {
    probeId: d.probeId,
    sessionId: d.sessionId,
    kind: d.kind,
    route: d.route,
    time: d.startedAt,
    error: probeErrorOf(d),
    status: d.status ?? null,
    pod,
    phase,
    cause,
    beforeRollout: inBaseline(d, rolloutBeganMs),
  };
}

/** Probe requests of one window (the baseline, or the rollout): every failure counted once. */
export interface WindowTally {
  total: number;
  ok: number;
  retriedOk: number;
  /** Each request's duration (ms), in the order counted. */
  readonly durationsMs: number[];
  readonly failedByCause: Record<Cause, number>;
  readonly failedByPhase: Record<FailurePhase, number>;
  readonly clientErrors: Record<ProbeError, number>;
}

function windowTally(): WindowTally {
  return {
    total: 0,
    ok: 0,
    retriedOk: 0,
    durationsMs: [],
    failedByCause: zeroes(CAUSES),
    failedByPhase: zeroes<FailurePhase>([...PHASES, 'unknown']),
    clientErrors: zeroes<ProbeError>(PROBE_ERROR_KINDS),
  };
}

/** The probe requests a pod answered: how many, and the first and last (ms). */
export interface PodAnswers {
  readonly count: number;
  readonly firstMs: number;
  readonly lastMs: number;
}

export interface RequestTally {
  /** From the first pod's termination on (everything when no pod terminated). */
  readonly rollout: WindowTally;
  /** Before the first pod's termination. */
  readonly baseline: WindowTally;
  /** Failed probe requests of the rollout by the pod at fault. */
  readonly failedByPod: ReadonlyMap<string, number>;
  /** Probe requests per pod that answered them, over the whole window. */
  readonly perPod: ReadonlyMap<string, PodAnswers>;
  /** Every failure (baseline ones marked), oldest first. */
  readonly failures: readonly FailureRecord[];
}

/**
 * Counts the probe requests (oldest first) of the baseline (before `rolloutBeganMs`) and of the
 * rollout, attributes each failure, and notes lost sessions.
 */
export function tallyProbeRequests(
  facts: ReportFacts,
  lives: PodLives,
  sessions: SessionTally,
  rolloutBeganMs: number | null = null,
): RequestTally {
  const requests = eventsOf(facts.probes, 'probe.request').sort(
    (a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id),
  );
  const rollout = windowTally();
  const baseline = windowTally();
  const failedByPod = new Map<string, number>();
  const perPod = new Map<string, PodAnswers>();
  const failures: FailureRecord[] = [];
  const evidence = goawayEvidence(facts);
  // Each session's last pod that answered (gRPC: the pod its channel's connection went to).
  const lastPod = new Map<string, string>();
  for (const { data: d } of requests) {
    sessions.see(d.sessionId);
    const t = Date.parse(d.startedAt);
    const before = lastPod.get(d.sessionId);
    if (d.pod) lastPod.set(d.sessionId, d.pod);
    if (d.pod) {
      const prev = perPod.get(d.pod);
      perPod.set(d.pod, {
        count: (prev?.count ?? 0) + 1,
        firstMs: Math.min(prev?.firstMs ?? t, t),
        lastMs: Math.max(prev?.lastMs ?? t, t),
      });
    }
    const w = inBaseline(d, rolloutBeganMs) ? baseline : rollout;
    w.total += 1;
    w.durationsMs.push(d.durationMs);
    if (d.ok) {
      w.ok += 1;
      continue;
    }
    if (d.retry?.ok) w.retriedOk += 1;
    w.clientErrors[probeErrorOf(d)] += 1;
    const f = failureOf(d, facts, lives, rolloutBeganMs, { lastPod: before, evidence });
    // The user saw the failure when the exchange ended: that is when the session was lost.
    if (isSessionFailure(d)) sessions.lose(d.sessionId, t + d.durationMs, f.cause);
    w.failedByCause[f.cause] += 1;
    w.failedByPhase[f.phase] += 1;
    if (f.pod && w === rollout) failedByPod.set(f.pod, (failedByPod.get(f.pod) ?? 0) + 1);
    failures.push(f);
  }
  return { rollout, baseline, failedByPod, perPod, failures };
}
