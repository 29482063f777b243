import type { EventData } from '../contract/events.js';
import { CAUSES, type Cause, PHASES, type Phase, type ProbeError } from '../contract/events.js';

// The report of one rollout (DESIGN §5), computed from stored facts on every read. Nothing here
// depends on the order events arrived in: late or replayed events change the answer exactly as if
// they had arrived on time.

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

/** Close codes that end a WebSocket cleanly during a drain (DESIGN §4). */
export const CLEAN_CLOSE_CODES: ReadonlySet<string> = new Set(['1000', '1001', '1012']);

export interface Distribution {
  readonly samples: number;
  readonly p50Ms: number | null;
  readonly maxMs: number | null;
}

export interface PodTermination {
  readonly pod: string;
  readonly instance: string;
  readonly clean: boolean;
  /** Why it is not clean: failed-requests, in-flight-cut, websocket-close, killed-at-grace, exit-not-seen. */
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
}

export interface GateVerdict {
  readonly score: 'sessionPersistence';
  readonly threshold: number;
  readonly value: number | null;
  readonly passed: boolean;
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
  readonly sessions: {
    readonly active: number;
    readonly lost: number;
    readonly lostByCause: Readonly<Record<Cause, number>>;
  };
  readonly probeRequests: {
    readonly total: number;
    readonly ok: number;
    readonly failed: number;
    readonly retriedOk: number;
  };
  /** Failed probe requests plus probe WebSockets dropped without a close frame, by cause. */
  readonly failedByCause: Readonly<Record<Cause, number>>;
  /** Failed probe requests by the pod phase at arrival (unknown when no pod saw it). */
  readonly failedByPhase: Readonly<Record<FailurePhase, number>>;
  /** Errors seen by probe clients (5xx, resets, ...). */
  readonly clientErrors: Readonly<Record<ProbeError, number>>;
  readonly inFlightAtSigterm: number;
  readonly inFlightCut: number;
  readonly lateArrivals: number;
  /** Non-probe traffic the agents saw fail during the window, by phase (from traffic summaries). */
  readonly agentFailedRequests: Readonly<Record<Phase, number>>;
  readonly agentEventsDropped: number;
  readonly endpointPropagation: Distribution;
  readonly prestop: Distribution & { readonly byReason: Readonly<Record<string, number>> };
  readonly drain: Distribution;
  /** Agent-side WebSocket closes during terminations by code; "none" = no close frame. */
  readonly websocketCloses: Readonly<Record<string, number>>;
  /** Probe WebSockets that ended with 1006 (no close frame). */
  readonly websocketsDropped: number;
  readonly messagesLost: number;
  /** Probe requests of the busiest pod ÷ the quietest; null with fewer than two pods. */
  readonly trafficSkew: number | null;
  readonly stickyRouting: boolean;
  readonly terminations: readonly PodTermination[];
  /** Every failed probe request with its cause, oldest first (at most MAX_FAILURES_LISTED). */
  readonly failures: readonly FailureRecord[];
  readonly failuresTruncated: boolean;
  /** Pods whose event seq had a gap: their part of this report may be incomplete. */
  readonly evidenceIncomplete: readonly string[];
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

function zeroes<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

function distribution(values: readonly number[]): Distribution {
  if (values.length === 0) return { samples: 0, p50Ms: null, maxMs: null };
  const sorted = [...values].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50Ms: sorted[Math.ceil(sorted.length / 2) - 1]!,
    maxMs: sorted[sorted.length - 1]!,
  };
}

function ratio(num: number, den: number): number | null {
  return den === 0 ? null : num / den;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

interface PodLife {
  readonly pod: string;
  readonly instance: string;
  readonly startMs: number;
  prestopStartMs: number | null;
  sigtermMs: number | null;
  stoppedMs: number | null;
  exitedMs: number | null;
  firstEventMs: number | null;
  prestopFinished: EventData<'prestop.finished'> | null;
  exited: EventData<'app.exited'> | null;
  summary: EventData<'drain.summary'> | null;
  propagationMs: number | null;
  wsCloses: Record<string, number>;
}

function podLife(pod: string, instance: string, startMs: number, events: readonly StoredPodEvent[]): PodLife {
  const life: PodLife = {
    pod,
    instance,
    startMs,
    prestopStartMs: null,
    sigtermMs: null,
    stoppedMs: null,
    exitedMs: null,
    firstEventMs: null,
    prestopFinished: null,
    exited: null,
    summary: null,
    propagationMs: null,
    wsCloses: {},
  };
  for (const e of events) {
    // Endpoint propagation is measured by a cluster adapter (Kubernetes watch, local entry point),
    // not by the pod's agent, so it arrives under the adapter's own instance.
    if (e.kind === 'endpoints.propagated' && e.instance !== instance) {
      if (Date.parse(e.time) >= startMs) {
        life.propagationMs = (e.data as EventData<'endpoints.propagated'>).propagationMs;
      }
      continue;
    }
    if (e.instance !== instance) continue;
    const t = Date.parse(e.time);
    if (life.firstEventMs === null || t < life.firstEventMs) life.firstEventMs = t;
    switch (e.kind) {
      case 'prestop.started':
        life.prestopStartMs = Math.min(life.prestopStartMs ?? t, t);
        break;
      case 'prestop.finished':
        life.prestopFinished = e.data as EventData<'prestop.finished'>;
        break;
      case 'sigterm':
        life.sigtermMs = Math.min(life.sigtermMs ?? t, t);
        break;
      case 'app.stopped-listening':
        life.stoppedMs = Math.min(life.stoppedMs ?? t, t);
        break;
      case 'app.exited':
        life.exitedMs = Math.min(life.exitedMs ?? t, t);
        life.exited = e.data as EventData<'app.exited'>;
        break;
      case 'drain.summary':
        life.summary = e.data as EventData<'drain.summary'>;
        break;
      case 'endpoints.propagated':
        life.propagationMs = (e.data as EventData<'endpoints.propagated'>).propagationMs;
        break;
      case 'websocket.closed': {
        const d = e.data as EventData<'websocket.closed'>;
        if (d.closedPhase === 'serving') break;
        const code = d.closeFrame && d.code !== undefined ? String(d.code) : 'none';
        life.wsCloses[code] = (life.wsCloses[code] ?? 0) + 1;
        break;
      }
      default:
        break;
    }
  }
  return life;
}

function phaseAt(life: PodLife | undefined, t: number): FailurePhase {
  if (!life) return 'unknown';
  const termStart = life.prestopStartMs ?? life.sigtermMs;
  if (termStart === null || t < termStart) return 'serving';
  if (life.exitedMs !== null && t >= life.exitedMs) return 'exited';
  if (life.sigtermMs !== null && t >= life.sigtermMs) return 'draining';
  return 'prestop';
}

function hasGap(seqs: Readonly<Record<string, string>> | undefined): boolean {
  if (!seqs) return false;
  for (const [field, value] of Object.entries(seqs)) {
    if (!field.endsWith('|n')) continue;
    const instance = field.slice(0, -2);
    if (Number(value) < Number(seqs[`${instance}|max`] ?? 0)) return true;
  }
  return false;
}

const SESSION_ERRORS: ReadonlySet<string> = new Set(['unauthorized', 'identity-mismatch']);

/** Computes the report of DESIGN §5 from the facts stored for one rollout window. */
export function computeReport(facts: ReportFacts, options: { gate?: number } = {}): RolloutReport {
  const ro = facts.rollout;
  const lives = new Map<string, PodLife>();
  for (const t of [...facts.terminations].sort(
    (a, b) => a.startMs - b.startMs || a.pod.localeCompare(b.pod),
  )) {
    if (!lives.has(t.pod))
      lives.set(t.pod, podLife(t.pod, t.instance, t.startMs, facts.timelines.get(t.pod) ?? []));
  }
  // Pods outside the window (named by probes) still have timelines: their life tells phases too.
  const otherLives = new Map<string, PodLife>();
  const lifeOf = (pod: string | null | undefined, instance?: string): PodLife | undefined => {
    if (!pod) return undefined;
    const l = lives.get(pod);
    if (l && (instance === undefined || l.instance === instance)) return l;
    let o = otherLives.get(`${pod}|${instance ?? ''}`);
    if (!o) {
      const events = facts.timelines.get(pod);
      if (!events || events.length === 0) return l;
      const inst = instance ?? events[events.length - 1]!.instance;
      o = podLife(pod, inst, Number.NaN, events);
      otherLives.set(`${pod}|${instance ?? ''}`, o);
    }
    return o;
  };

  // Sessions: who issued each one, and was that pod terminating or gone at a given moment?
  const sessionCause = (sessionId: string, t: number, issuedBy?: string): Cause => {
    const logins = facts.logins.get(sessionId) ?? [];
    let issuer: string | null = issuedBy ?? null;
    // The loss event names the issuer itself (the probe knows it); else the latest login says.
    if (issuer === null) for (const l of logins) if (l.atMs <= t) issuer = l.issuedBy;
    if (issuer === null) return 'other';
    const termStart = facts.terminationStartByPod.get(issuer);
    return termStart !== undefined && termStart <= t ? 'session-in-memory' : 'other';
  };

  const probeRequests = facts.probes
    .filter((p) => p.kind === 'probe.request')
    .map((p) => ({ ...p, data: p.data as EventData<'probe.request'> }))
    .sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));

  const failedByCause = zeroes(CAUSES);
  const failedByPhase = zeroes<FailurePhase>([...PHASES, 'unknown']);
  const clientErrors = zeroes<ProbeError>(PROBE_ERROR_KINDS);
  const failedByPod = new Map<string, number>();
  const failures: FailureRecord[] = [];
  const sessionsActive = new Set<string>();
  const sessionLoss = new Map<string, { atMs: number; cause: Cause }>();
  const noteLoss = (sessionId: string, atMs: number, cause: Cause) => {
    const prev = sessionLoss.get(sessionId);
    if (!prev || atMs < prev.atMs) sessionLoss.set(sessionId, { atMs, cause });
  };
  let ok = 0;
  let retriedOk = 0;
  const perPodRequests = new Map<string, number>();

  for (const p of probeRequests) {
    const d = p.data;
    sessionsActive.add(d.sessionId);
    if (d.pod) perPodRequests.set(d.pod, (perPodRequests.get(d.pod) ?? 0) + 1);
    if (d.ok) {
      ok += 1;
      continue;
    }
    if (d.retry?.ok) retriedOk += 1;
    const t = Date.parse(d.startedAt);
    const error: ProbeError = d.error ?? (d.status !== undefined && d.status >= 500 ? '5xx' : 'other');
    clientErrors[error] += 1;
    const agent = facts.agentRequests.get(d.probeId);
    let cause: Cause;
    let pod: string | null = agent?.pod ?? d.pod ?? null;
    const life = lifeOf(pod, agent?.instance);
    const phase: FailurePhase = agent?.arrivalPhase ?? phaseAt(life, t);
    if (SESSION_ERRORS.has(error) || d.status === 401 || d.status === 403) {
      cause = sessionCause(d.sessionId, t);
      if (cause === 'session-in-memory') {
        // The dying pod that held the session is the one at fault, not the pod that answered.
        const logins = facts.logins.get(d.sessionId) ?? [];
        for (const l of logins) if (l.atMs <= t) pod = l.issuedBy;
      }
      noteLoss(d.sessionId, t, cause);
    } else if (agent) {
      const exitedMs = life?.exitedMs ?? null;
      const started = Date.parse(agent.startedAt);
      const inFlightAtExit =
        agent.endPhase === 'exited' ||
        (exitedMs !== null && started <= exitedMs && started + agent.durationMs >= exitedMs);
      if (agent.outcome === 'upstream-refused' && agent.arrivalPhase !== 'serving') cause = 'late-arrival';
      else if (agent.outcome === 'upstream-reset' || inFlightAtExit) {
        const killed = life?.exited?.killedAtGrace === true || life?.summary?.killedAtGrace === true;
        cause = killed ? 'killed-at-grace' : 'cut-in-flight';
      } else cause = 'other';
    } else if (d.pod && life && reachedPod(life, t)) {
      // The response named a pod whose agent was up then: the request did reach it.
      cause = 'other';
    } else {
      cause = 'never-reached-pod';
    }
    failedByCause[cause] += 1;
    failedByPhase[phase] += 1;
    if (pod) failedByPod.set(pod, (failedByPod.get(pod) ?? 0) + 1);
    failures.push({
      probeId: d.probeId,
      sessionId: d.sessionId,
      kind: d.kind,
      route: d.route,
      time: d.startedAt,
      error,
      status: d.status ?? null,
      pod,
      phase,
      cause,
    });
  }

  let websocketsDropped = 0;
  let messagesLostEvents = 0;
  let messagesLostSummaries = 0;
  let summarySkew: number | null = null;
  let sticky = false;
  for (const p of facts.probes) {
    if (p.kind === 'probe.session') {
      const d = p.data as EventData<'probe.session'>;
      sessionsActive.add(d.sessionId);
      if (d.event === 'lost') {
        const t = Date.parse(d.at);
        noteLoss(d.sessionId, t, sessionCause(d.sessionId, t, d.issuedBy));
      }
    } else if (p.kind === 'probe.websocket') {
      const d = p.data as EventData<'probe.websocket'>;
      sessionsActive.add(d.sessionId);
      if (d.event === 'closed' && d.code === 1006) websocketsDropped += 1;
      if (d.event === 'message-lost') messagesLostEvents += 1;
    } else if (p.kind === 'probe.summary') {
      const d = p.data as EventData<'probe.summary'>;
      messagesLostSummaries += d.messagesLost;
      if (d.skewRatio !== null) summarySkew = Math.max(summarySkew ?? 0, d.skewRatio);
      sticky ||= d.sticky;
    }
  }
  failedByCause['no-close-frame'] += websocketsDropped;

  const lostByCause = zeroes(CAUSES);
  for (const loss of sessionLoss.values()) lostByCause[loss.cause] += 1;

  // Terminations.
  const terminations: PodTermination[] = [];
  const evidenceIncomplete: string[] = [];
  const websocketCloses: Record<string, number> = {};
  const prestopByReason: Record<string, number> = {};
  const propagation: number[] = [];
  const prestopDurations: number[] = [];
  const drainDurations: number[] = [];
  let inFlightAtSigterm = 0;
  let inFlightCut = 0;
  let lateArrivals = 0;
  let agentEventsDropped = 0;
  for (const life of lives.values()) {
    const s = life.summary;
    const closes = s ? { ...s.websocketCloses } : life.wsCloses;
    for (const [code, n] of Object.entries(closes)) websocketCloses[code] = (websocketCloses[code] ?? 0) + n;
    const killedAtGrace = life.exited?.killedAtGrace === true || s?.killedAtGrace === true;
    const drainMs =
      s?.drainMs ??
      (life.exitedMs !== null && life.sigtermMs !== null ? life.exitedMs - life.sigtermMs : null);
    const prestopMs = life.prestopFinished?.durationMs ?? s?.prestopMs ?? null;
    if (life.prestopFinished) {
      const r = life.prestopFinished.reason;
      prestopByReason[r] = (prestopByReason[r] ?? 0) + 1;
    }
    if (prestopMs !== null) prestopDurations.push(prestopMs);
    if (drainMs !== null) drainDurations.push(drainMs);
    if (life.propagationMs !== null) propagation.push(life.propagationMs);
    inFlightAtSigterm += s?.inFlightAtSigterm ?? 0;
    inFlightCut += s?.inFlightCut ?? 0;
    lateArrivals += s?.lateArrivals ?? 0;
    agentEventsDropped += s?.eventsDropped ?? 0;
    const failed = failedByPod.get(life.pod) ?? 0;
    const reasons: string[] = [];
    if (failed > 0) reasons.push('failed-requests');
    if ((s?.inFlightCut ?? 0) > 0) reasons.push('in-flight-cut');
    if (Object.entries(closes).some(([code, n]) => n > 0 && !CLEAN_CLOSE_CODES.has(code))) {
      reasons.push('websocket-close');
    }
    if (killedAtGrace) reasons.push('killed-at-grace');
    if (life.exitedMs === null && !s) reasons.push('exit-not-seen');
    const incomplete = hasGap(facts.seqs.get(life.pod));
    if (incomplete) evidenceIncomplete.push(life.pod);
    terminations.push({
      pod: life.pod,
      instance: life.instance,
      clean: reasons.length === 0,
      uncleanReasons: reasons,
      startedAt: new Date(life.startMs).toISOString(),
      prestopMs,
      prestopReason: life.prestopFinished?.reason ?? null,
      sigtermAt: iso(life.sigtermMs),
      stoppedListeningAt: iso(life.stoppedMs),
      exitedAt: iso(life.exitedMs),
      drainMs,
      exitCode: life.exited?.code ?? s?.exitCode ?? null,
      killedAtGrace,
      inFlightAtSigterm: s?.inFlightAtSigterm ?? 0,
      inFlightCut: s?.inFlightCut ?? 0,
      lateArrivals: s?.lateArrivals ?? 0,
      websocketCloses: closes,
      failedProbeRequests: failed,
      endpointPropagationMs: life.propagationMs,
      evidenceIncomplete: incomplete,
    });
  }

  const agentFailedRequests = zeroes(PHASES);
  for (const t of facts.traffic) {
    for (const ph of PHASES) agentFailedRequests[ph] += t.data.failed[ph];
  }

  const counts = [...perPodRequests.values()];
  const trafficSkew =
    counts.length >= 2
      ? Math.max(...counts) / Math.min(...counts)
      : summarySkew !== null
        ? summarySkew
        : null;

  const sessionPersistence = ratio(sessionsActive.size - sessionLoss.size, sessionsActive.size);
  const outcome: RolloutOutcome =
    ro.finishedAt === null ? 'open' : ((ro.outcome ?? 'complete') as RolloutOutcome);
  const report: RolloutReport = {
    rolloutId: ro.id,
    namespace: ro.namespace,
    workload: ro.workload,
    trigger: ro.trigger,
    outcome,
    startedAt: new Date(ro.startedAt).toISOString(),
    finishedAt: iso(ro.finishedAt),
    durationSeconds: ro.finishedAt === null ? null : (ro.finishedAt - ro.startedAt) / 1000,
    podsReplaced: ro.podsReplaced ?? terminations.length,
    scores: {
      sessionPersistence,
      requestSuccess: ratio(ok, probeRequests.length),
      cleanTerminations: ratio(terminations.filter((t) => t.clean).length, terminations.length),
    },
    sessions: { active: sessionsActive.size, lost: sessionLoss.size, lostByCause },
    probeRequests: { total: probeRequests.length, ok, failed: probeRequests.length - ok, retriedOk },
    failedByCause,
    failedByPhase,
    clientErrors,
    inFlightAtSigterm,
    inFlightCut,
    lateArrivals,
    agentFailedRequests,
    agentEventsDropped,
    endpointPropagation: distribution(propagation),
    prestop: { ...distribution(prestopDurations), byReason: prestopByReason },
    drain: distribution(drainDurations),
    websocketCloses,
    websocketsDropped,
    messagesLost: messagesLostEvents > 0 ? messagesLostEvents : messagesLostSummaries,
    trafficSkew,
    stickyRouting: sticky,
    terminations,
    failures: failures.slice(0, MAX_FAILURES_LISTED),
    failuresTruncated: failures.length > MAX_FAILURES_LISTED,
    evidenceIncomplete: evidenceIncomplete.sort(),
  };
  if (options.gate === undefined) return report;
  return { ...report, gate: gateVerdict(report, options.gate) };
}

function reachedPod(life: PodLife, t: number): boolean {
  return (
    life.firstEventMs !== null && life.firstEventMs <= t && (life.exitedMs === null || t <= life.exitedMs)
  );
}

/** The session-persistence gate: no sessions observed is no evidence, so it does not pass. */
export function gateVerdict(report: RolloutReport, threshold: number): GateVerdict {
  const value = report.scores.sessionPersistence;
  return { score: 'sessionPersistence', threshold, value, passed: value !== null && value >= threshold };
}
