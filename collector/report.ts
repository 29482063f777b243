import { CAUSES, PHASES } from '../contract/index.js';
import { distribution, iso, ratio, zeroes } from './report-data.js';
import { podLives } from './report-lives.js';
import { tallyProbeEvents } from './report-probe-events.js';
import { type RequestTally, tallyProbeRequests } from './report-requests.js';
import { createSessionTally } from './report-sessions.js';
import { hasGap, sumTerminations, terminationOf } from './report-terminations.js';
import {
  type GateVerdict,
  MAX_FAILURES_LISTED,
  type PodTermination,
  type ReportFacts,
  type RolloutOutcome,
  type RolloutRecord,
  type RolloutReport,
} from './report-types.js';

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

/** Probe requests of the busiest pod ÷ the quietest; else the probes' own figure; null without either. */
export function trafficSkew(perPod: ReadonlyMap<string, number>, summarySkew: number | null): number | null {
  const counts = [...perPod.values()];
  if (counts.length >= 2) return Math.max(...counts) / Math.min(...counts);
  return summarySkew;
}

/** Non-probe requests the agents saw fail in the window, by phase (from traffic summaries). */
export function agentFailedRequests(facts: ReportFacts): RolloutReport['agentFailedRequests'] {
  const failed = zeroes(PHASES);
  for (const t of facts.traffic) for (const ph of PHASES) failed[ph] += t.data.failed[ph];
  return failed;
}

/** A record per pod whose termination started in the window, with the pods whose evidence has gaps. */
function terminationsOf(
  facts: ReportFacts,
  lives: ReturnType<typeof podLives>,
  requests: RequestTally,
): { terminations: PodTermination[]; evidenceIncomplete: string[] } {
  const terminations: PodTermination[] = [];
  const evidenceIncomplete: string[] = [];
  for (const life of lives.terminated.values()) {
    const incomplete = hasGap(facts.seqs.get(life.pod));
    if (incomplete) evidenceIncomplete.push(life.pod);
    terminations.push(terminationOf(life, requests.failedByPod.get(life.pod) ?? 0, incomplete));
  }
  return { terminations, evidenceIncomplete: evidenceIncomplete.sort() };
}

/** Computes the report of docs/architecture.md §5 from the facts stored for one rollout window. */
export function computeReport(facts: ReportFacts, options: { gate?: number } = {}): RolloutReport {
  const ro = facts.rollout;
  const lives = podLives(facts);
  const sessions = createSessionTally();
  const requests = tallyProbeRequests(facts, lives, sessions);
  const probes = tallyProbeEvents(facts, sessions);
  const { terminations, evidenceIncomplete } = terminationsOf(facts, lives, requests);
  const totals = sumTerminations(terminations, [...lives.terminated.values()]);
  const lostByCause = zeroes(CAUSES);
  for (const loss of sessions.losses.values()) lostByCause[loss.cause] += 1;
  const failures = requests.failures;
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
      sessionPersistence: ratio(sessions.active.size - sessions.losses.size, sessions.active.size),
      requestSuccess: ratio(requests.ok, requests.total),
      cleanTerminations: ratio(terminations.filter((t) => t.clean).length, terminations.length),
    },
    sessions: { active: sessions.active.size, lost: sessions.losses.size, lostByCause },
    probeRequests: {
      total: requests.total,
      ok: requests.ok,
      failed: requests.total - requests.ok,
      retriedOk: requests.retriedOk,
    },
    // Probe WebSockets dropped without a close frame fail the user as surely as a failed request.
    failedByCause: {
      ...requests.failedByCause,
      'no-close-frame': requests.failedByCause['no-close-frame'] + probes.websocketsDropped,
    },
    failedByPhase: requests.failedByPhase,
    clientErrors: requests.clientErrors,
    inFlightAtSigterm: totals.inFlightAtSigterm,
    inFlightCut: totals.inFlightCut,
    lateArrivals: totals.lateArrivals,
    agentFailedRequests: agentFailedRequests(facts),
    agentEventsDropped: totals.agentEventsDropped,
    endpointPropagation: distribution(totals.propagationMs),
    prestop: { ...distribution(totals.prestopMs), byReason: totals.prestopByReason },
    drain: distribution(totals.drainMs),
    websocketCloses: totals.websocketCloses,
    websocketsDropped: probes.websocketsDropped,
    messagesLost: probes.messagesLost,
    trafficSkew: trafficSkew(requests.perPod, probes.summarySkew),
    stickyRouting: probes.sticky,
    terminations,
    failures: failures.slice(0, MAX_FAILURES_LISTED),
    failuresTruncated: failures.length > MAX_FAILURES_LISTED,
    evidenceIncomplete,
  };
  if (options.gate === undefined) return report;
  return { ...report, gate: gateVerdict(report, options.gate) };
}

/** The session-persistence gate: no sessions observed is no evidence, so it does not pass. */
export function gateVerdict(report: RolloutReport, threshold: number): GateVerdict {
  const value = report.scores.sessionPersistence;
  return { score: 'sessionPersistence', threshold, value, passed: value !== null && value >= threshold };
}
