import { CAUSES, type Cause, PHASES, type ProbeError } from '../contract/index.js';
import type { EventData } from '../contract/validate.js';
import { eventsOf, zeroes } from './report-data.js';
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
    return killed ? 'killed-at-grace' : 'cut-in-flight';
  }
  return 'other';
}

/** One failed probe request, attributed. */
export function failureOf(d: ProbeRequest, facts: ReportFacts, lives: PodLives): FailureRecord {
  const t = Date.parse(d.startedAt);
  const agent = facts.agentRequests.get(d.probeId);
  let pod: string | null = agent?.pod ?? d.pod ?? null;
  const life = lives.lifeOf(pod, agent?.instance);
  const phase: FailurePhase = agent?.arrivalPhase ?? phaseAt(life, t);
  let cause: Cause;
  if (isSessionFailure(d)) {
    cause = sessionCause(facts, d.sessionId, t);
    // The dying pod that held the session is the one at fault, not the pod that answered.
    const login = cause === 'session-in-memory' ? latestLogin(facts, d.sessionId, t) : undefined;
    if (login) pod = login.issuedBy;
  } else if (agent) {
    cause = agentCause(agent, life);
  } else if (d.pod && life && reachedPod(life, t)) {
    // The response named a pod whose agent was up then: the request did reach it.
    cause = 'other';
  } else {
    cause = 'never-reached-pod';
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
  };
}

export interface RequestTally {
  readonly total: number;
  readonly ok: number;
  readonly retriedOk: number;
  readonly failedByCause: Record<Cause, number>;
  readonly failedByPhase: Record<FailurePhase, number>;
  readonly clientErrors: Record<ProbeError, number>;
  readonly failedByPod: ReadonlyMap<string, number>;
  /** Probe requests per pod that answered them. */
  readonly perPod: ReadonlyMap<string, number>;
  /** Every failure, oldest first. */
  readonly failures: readonly FailureRecord[];
}

/** Counts the probe requests (oldest first), attributes each failure, and notes lost sessions. */
export function tallyProbeRequests(
  facts: ReportFacts,
  lives: PodLives,
  sessions: SessionTally,
): RequestTally {
  const requests = eventsOf(facts.probes, 'probe.request').sort(
    (a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id),
  );
  const tally = {
    total: requests.length,
    ok: 0,
    retriedOk: 0,
    failedByCause: zeroes(CAUSES),
    failedByPhase: zeroes<FailurePhase>([...PHASES, 'unknown']),
    clientErrors: zeroes<ProbeError>(PROBE_ERROR_KINDS),
    failedByPod: new Map<string, number>(),
    perPod: new Map<string, number>(),
    failures: [] as FailureRecord[],
  };
  for (const { data: d } of requests) {
    sessions.see(d.sessionId);
    if (d.pod) tally.perPod.set(d.pod, (tally.perPod.get(d.pod) ?? 0) + 1);
    if (d.ok) {
      tally.ok += 1;
      continue;
    }
    if (d.retry?.ok) tally.retriedOk += 1;
    tally.clientErrors[probeErrorOf(d)] += 1;
    const f = failureOf(d, facts, lives);
    if (isSessionFailure(d)) sessions.lose(d.sessionId, Date.parse(d.startedAt), f.cause);
    tally.failedByCause[f.cause] += 1;
    tally.failedByPhase[f.phase] += 1;
    if (f.pod) tally.failedByPod.set(f.pod, (tally.failedByPod.get(f.pod) ?? 0) + 1);
    tally.failures.push(f);
  }
  return tally;
}
