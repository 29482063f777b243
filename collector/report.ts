import { CAUSES, type Cause, PHASES } from '../contract/index.js';
import { distribution, iso, latencyDistribution, ratio, zeroes } from './report-data.js';
import { type GrpcFigures, grpcFigures } from './report-grpc.js';
import { reportInvariantViolations } from './report-invariants.js';
import { type PodLives, podLives } from './report-lives.js';
import { tallyProbeEvents } from './report-probe-events.js';
import { agentCause, type RequestTally, tallyProbeRequests } from './report-requests.js';
import { createSessionTally, type SessionTally } from './report-sessions.js';
import { servingRates, trafficSkew } from './report-skew.js';
import { probeStreamsByPod } from './report-streams.js';
import {
  cleanTerminationsScore,
  evidenceIncompleteOf,
  sumTerminations,
  terminationOf,
} from './report-terminations.js';
import {
  type BaselineDefects,
  type GateVerdict,
  MAX_FAILURES_LISTED,
  type PodTermination,
  type ReportFacts,
  type RolloutOutcome,
  type RolloutRecord,
  type RolloutReport,
} from './report-types.js';
import { probeWebsocketOutcomes } from './report-websockets.js';

// The report of one rollout (docs/architecture.md §5), computed from stored facts on every read. Nothing here
// depends on the order events arrived in: late or replayed events change the answer exactly as if
// they had arrived on time.

const OUTCOMES: ReadonlySet<string> = new Set<RolloutOutcome>(['complete', 'failed', 'aborted', 'timeout']);

function isOutcome(s: string): s is RolloutOutcome {
  return OUTCOMES.has(s);
}

/** open until finished; a finished rollout without a recorded outcome completed. */
export function outcomeOf(ro: RolloutRecord): RolloutOutcome {
  if (ro.finishedAt === null) return 'open';
  const outcome = ro.outcome ?? 'complete';
  return isOutcome(outcome) ? outcome : 'complete';
}

/** Non-probe requests the agents saw fail in the window, by phase (from traffic summaries). */
export function agentFailedRequests(facts: ReportFacts): RolloutReport['agentFailedRequests'] {
  const failed = zeroes(PHASES);
  for (const t of facts.traffic) for (const ph of PHASES) failed[ph] += t.data.failed[ph];
  return failed;
}

/** Kubelet health and readiness checks the agents saw, summed from traffic summaries. */
export function healthChecksSeen(facts: ReportFacts): RolloutReport['healthChecks'] {
  let requests = 0;
  let failed = 0;
  for (const t of facts.traffic) {
    requests += t.data.healthChecks ?? 0;
    failed += t.data.healthChecksFailed ?? 0;
  }
  return { requests, failed };
}

/** When the rollout proper began: the first termination in the window (ms); null without one. */
export function rolloutBeganMs(facts: ReportFacts): number | null {
  const starts = facts.terminations.map((t) => t.startMs).filter((t) => Number.isFinite(t));
  return starts.length === 0 ? null : Math.min(...starts);
}

/** Sessions lost before `began` (baseline defects) and the rest (the rollout's), by cause. */
export function splitSessionLosses(
  sessions: SessionTally,
  began: number | null,
): { baseline: Record<Cause, number>; rollout: Record<Cause, number>; baselineLost: number } {
  const baseline = zeroes(CAUSES);
  const rollout = zeroes(CAUSES);
  let baselineLost = 0;
  for (const loss of sessions.losses.values()) {
    if (began !== null && loss.atMs < began) {
      baseline[loss.cause] += 1;
      baselineLost += 1;
    } else rollout[loss.cause] += 1;
  }
  return { baseline, rollout, baselineLost };
}

/** A record per pod whose termination started in the window, with the pods whose evidence has gaps. */
function terminationsOf(
  facts: ReportFacts,
  lives: ReturnType<typeof podLives>,
  requests: RequestTally,
  streams: ReturnType<typeof probeStreamsByPod>,
): { terminations: PodTermination[]; evidenceIncomplete: string[] } {
  const terminations: PodTermination[] = [];
  const evidenceIncomplete: string[] = [];
  for (const life of lives.terminated.values()) {
    const incomplete = evidenceIncompleteOf(
      life,
      facts.seqs.get(life.pod),
      facts.rollout.finishedAt !== null,
    );
    if (incomplete) evidenceIncomplete.push(life.pod);
    terminations.push(
      terminationOf(life, requests.failedByPod.get(life.pod) ?? 0, incomplete, streams.get(life.pod)),
    );
  }
  return { terminations, evidenceIncomplete: evidenceIncomplete.sort() };
}

function baselineOf(
  began: number | null,
  w: RequestTally['baseline'],
  lost: ReturnType<typeof splitSessionLosses>,
): BaselineDefects {
  return {
    rolloutBeganAt: iso(began),
    requests: w.total,
    failed: w.total - w.ok,
    failedByCause: w.failedByCause,
    sessionsLost: lost.baselineLost,
    sessionsLostByCause: lost.baseline,
  };
}

/** `grpc` when the probes made gRPC calls; a stream without the agent's record of it reached no pod. */
function grpcSection(facts: ReportFacts, lives: PodLives, began: number | null): { grpc?: GrpcFigures } {
  const grpc = grpcFigures(facts, lives, began, (agent, life) =>
    agent ? agentCause(agent, life) : 'never-reached-pod',
  );
  return grpc ? { grpc } : {};
}

/**
 * Computes the report of docs/architecture.md §5 from the facts stored for one rollout window, by the counting
 * rules of docs/collector.md: what failed before the first pod's termination is the baseline's.
 */
export function computeReport(facts: ReportFacts, options: { gate?: number } = {}): RolloutReport {
  const ro = facts.rollout;
  const lives = podLives(facts);
  const began = rolloutBeganMs(facts);
  const sessions = createSessionTally();
  const requests = tallyProbeRequests(facts, lives, sessions, began);
  const probes = tallyProbeEvents(facts, sessions);
  const { terminations, evidenceIncomplete } = terminationsOf(
    facts,
    lives,
    requests,
    probeStreamsByPod(facts, lives),
  );
  const totals = sumTerminations(terminations, [...lives.terminated.values()]);
  const lost = splitSessionLosses(sessions, began);
  // Sessions alive when the rollout began: those seen, less those the baseline already lost.
  const active = sessions.active.size - lost.baselineLost;
  const lostInRollout = sessions.losses.size - lost.baselineLost;
  const w = requests.rollout;
  const failed = w.total - w.ok;
  const failures = requests.failures;
  const websocketOutcomes = {
    atTermination: totals.websocketOutcomes,
    probe: probeWebsocketOutcomes(facts, lives),
  };
  const report: RolloutReport = {
    rolloutId: ro.id,
    namespace: ro.namespace,
    workload: ro.workload,
    trigger: ro.trigger,
    outcome: outcomeOf(ro),
    startedAt: new Date(ro.startedAt).toISOString(),
    finishedAt: iso(ro.finishedAt),
    durationSeconds: ro.finishedAt === null ? null : (ro.finishedAt - ro.startedAt) / 1000,
    podsReplaced: ro.podsReplaced ?? terminations.length,
    scores: {
      sessionPersistence: ratio(active - lostInRollout, active),
      requestSuccess: ratio(w.ok, w.total),
      cleanTerminations: cleanTerminationsScore(terminations),
    },
    sessions: { active, lost: lostInRollout, lostByCause: lost.rollout },
    baseline: baselineOf(began, requests.baseline, lost),
    probeRequests: { total: w.total, ok: w.ok, failed, retriedOk: w.retriedOk },
    failedByCause: w.failedByCause,
    failedByPhase: w.failedByPhase,
    clientErrors: w.clientErrors,
    inFlightAtSigterm: totals.inFlightAtSigterm,
    inFlightCut: totals.inFlightCut,
    inFlightLost: w.failedByCause['cut-in-flight'] + w.failedByCause['killed-at-grace'],
    lateArrivals: totals.lateArrivals,
    healthChecks: healthChecksSeen(facts),
    agentFailedRequests: agentFailedRequests(facts),
    agentEventsDropped: totals.agentEventsDropped,
    endpointPropagation: distribution(totals.propagationMs),
    latency: latencyDistribution(w.durationsMs),
    prestop: { ...distribution(totals.prestopMs), byReason: totals.prestopByReason },
    drain: distribution(totals.drainMs),
    websocketCloses: totals.websocketCloses,
    websocketOutcomes,
    websocketsDropped: probes.websocketsDropped,
    messagesLost: probes.messagesLost,
    messagesResent: probes.messagesResent,
    messagesDuplicated: probes.messagesDuplicated,
    streamEnds: probes.streamEnds,
    streamEndsAtTermination: totals.streamEnds,
    messagesLostAtTermination: totals.messagesLost,
    ...grpcSection(facts, lives, began),
    trafficSkew: trafficSkew(servingRates(requests.perPod, facts), probes.summarySkew),
    stickyRouting: probes.sticky,
    terminations,
    failures: failures.slice(0, MAX_FAILURES_LISTED),
    failuresTruncated: failures.length > MAX_FAILURES_LISTED,
    evidenceIncomplete,
    inconclusive: probes.inconclusive,
    invariantViolations: [],
  };
  const checked = { ...report, invariantViolations: reportInvariantViolations(report) };
  if (options.gate === undefined) return checked;
  return { ...checked, gate: gateVerdict(checked, options.gate) };
}

/**
 * The session-persistence gate. It does not pass without evidence (no sessions), when the app lost
 * sessions before the rollout (it loses them without one: the score would hide it), nor when the
 * run is inconclusive (an overloaded probe's figures judge nothing).
 */
export function gateVerdict(report: RolloutReport, threshold: number): GateVerdict {
  const value = report.scores.sessionPersistence;
  const reasons: string[] = [];
  const b = report.baseline;
  if (b && b.sessionsLost > 0) {
    const causes = Object.entries(b.sessionsLostByCause)
      .filter(([, n]) => n > 0)
      .map(([c, n]) => `${c} ${n}`)
      .join(', ');
    reasons.push(
      `the app loses sessions even without a rollout: ${b.sessionsLost} session(s) lost before the first pod terminated (${causes})`,
    );
  }
  const inconclusive = report.inconclusive ?? null;
  const passed = value !== null && value >= threshold && reasons.length === 0 && inconclusive === null;
  return {
    score: 'sessionPersistence',
    threshold,
    value,
    passed,
    ...(inconclusive !== null ? { inconclusive } : {}),
    ...(reasons.length > 0 ? { reasons } : {}),
  };
}
