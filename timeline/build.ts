import {
  computeReport,
  type FailureRecord,
  MAX_FAILURES_LISTED,
  type ReportFacts,
  type RolloutReport,
} from '../collector/index.js';
import type { EventData } from '../contract/validate.js';
import { TimelineDataError } from './errors.js';
import {
  type Bucket,
  type InFlightRequest,
  type PodLane,
  TIMELINE_VERSION,
  type Timeline,
  type TimelineRun,
  timelineSchema,
  type WebsocketClose,
} from './model.js';

// From the collector's stored facts of one rollout to the timeline model. The verdicts (cause and
// phase of each failure, the pods' terminations) are the report's own (collector/report.ts): this
// module only places them in time.

/** About this many points on the success and sessions curves. */
const TARGET_BUCKETS = 80;
const NICE_BUCKETS_MS = [100, 200, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000];

type ProbeRequest = ReportFacts['probes'][number] & { data: EventData<'probe.request'> };

/**
 * Every failure with its cause. The report lists at most MAX_FAILURES_LISTED; a failure's cause
 * depends only on that request and the pods' facts, so the failed requests are judged in slices of
 * that size against the same facts.
 */
function allFailures(facts: ReportFacts, failed: readonly ProbeRequest[]): FailureRecord[] {
  const out: FailureRecord[] = [];
  for (let i = 0; i < failed.length; i += MAX_FAILURES_LISTED) {
    const probes = failed.slice(i, i + MAX_FAILURES_LISTED);
    out.push(...computeReport({ ...facts, probes }).failures);
  }
  return out;
}

function bucketSize(spanMs: number): number {
  const want = spanMs / TARGET_BUCKETS;
  return NICE_BUCKETS_MS.find((b) => b >= want) ?? NICE_BUCKETS_MS[NICE_BUCKETS_MS.length - 1]!;
}

/**
 * Per bucket: probe requests started and ok, and sessions active, i.e. between their first and last
 * probe event of the window (a session that lost its login and logged in again stays active).
 */
function curves(facts: ReportFacts, requests: readonly ProbeRequest[], startMs: number, endMs: number) {
  const bucketMs = bucketSize(Math.max(1, endMs - startMs));
  const n = Math.max(1, Math.ceil((endMs - startMs) / bucketMs));
  const index = (t: number) => Math.min(n - 1, Math.max(0, Math.floor((t - startMs) / bucketMs)));
  const buckets: Bucket[] = Array.from({ length: n }, (_, i) => ({
    atMs: startMs + i * bucketMs,
    requests: 0,
    ok: 0,
    sessions: 0,
  }));
  for (const r of requests) {
    const b = buckets[index(Date.parse(r.data.startedAt))]!;
    b.requests += 1;
    if (r.data.ok) b.ok += 1;
  }
  const spans = new Map<string, { from: number; to: number }>();
  for (const p of facts.probes) {
    const d = p.data as { sessionId?: string; startedAt?: string; at?: string };
    const at = d.startedAt ?? d.at;
    if (!d.sessionId || !at) continue;
    const t = Date.parse(at);
    const s = spans.get(d.sessionId);
    if (!s) spans.set(d.sessionId, { from: t, to: t });
    else {
      s.from = Math.min(s.from, t);
      s.to = Math.max(s.to, t);
    }
  }
  for (const s of spans.values())
    for (let i = index(s.from); i <= index(s.to); i++) buckets[i]!.sessions += 1;
  return { bucketMs, buckets };
}

const ms = (iso: string | null): number | null => (iso === null ? null : Date.parse(iso));

/** Lanes: terminated pods in the order they went, then pods that only served, by first request. */
function lanes(
  facts: ReportFacts,
  report: RolloutReport,
  firstSeen: ReadonlyMap<string, number>,
  endMs: number,
): PodLane[] {
  const out: PodLane[] = [];
  const startMs = facts.rollout.startedAt;
  for (const t of report.terminations) {
    const termMs = Date.parse(t.startedAt);
    const sigterm = ms(t.sigtermAt);
    const exited = ms(t.exitedAt);
    const stopped = ms(t.stoppedListeningAt);
    const prestopEnd = t.prestopMs === null ? sigterm : termMs + t.prestopMs;
    const own = (facts.timelines.get(t.pod) ?? []).filter((e) => e.instance === t.instance);
    const first = Math.min(termMs, firstSeen.get(t.pod) ?? termMs, ...own.map((e) => Date.parse(e.time)));
    const phases: PodLane['phases'] = [{ phase: 'ready', startMs: Math.max(startMs, first), endMs: termMs }];
    if (prestopEnd !== null && prestopEnd > termMs)
      phases.push({ phase: 'prestop', startMs: termMs, endMs: prestopEnd });
    if (sigterm !== null) phases.push({ phase: 'draining', startMs: sigterm, endMs: exited ?? endMs });
    const marks: PodLane['marks'] = [];
    if (sigterm !== null) marks.push({ mark: 'sigterm', atMs: sigterm });
    if (stopped !== null) marks.push({ mark: 'stopped-listening', atMs: stopped });
    if (exited !== null) marks.push({ mark: t.killedAtGrace ? 'killed' : 'exit', atMs: exited });
    const propagated = (facts.timelines.get(t.pod) ?? []).find(
      (e) => e.kind === 'endpoints.propagated' && Date.parse(e.time) >= termMs - 60_000,
    );
    let propagation: PodLane['propagation'] = null;
    if (propagated) {
      const d = propagated.data as EventData<'endpoints.propagated'>;
      const from = Date.parse(d.deletionAt);
      propagation = { startMs: from, endMs: from + d.propagationMs };
    } else if (t.endpointPropagationMs !== null) {
      propagation = { startMs: termMs, endMs: termMs + t.endpointPropagationMs };
    }
    out.push({
      pod: t.pod,
      instance: t.instance,
      terminated: true,
      phases: phases.filter((p) => p.endMs >= p.startMs),
      marks,
      propagation,
      exitCode: t.exitCode,
      killedAtGrace: t.killedAtGrace,
      uncleanReasons: [...t.uncleanReasons],
    });
  }
  const gone = new Set(out.map((l) => l.pod));
  for (const [pod, first] of [...firstSeen].sort((a, b) => a[1] - b[1])) {
    if (gone.has(pod)) continue;
    out.push({
      pod,
      instance: null,
      terminated: false,
      phases: [{ phase: 'ready', startMs: Math.max(startMs, first), endMs }],
      marks: [],
      propagation: null,
      exitCode: null,
      killedAtGrace: false,
      uncleanReasons: [],
    });
  }
  return out;
}

/** Probe requests whose time at a pod overlaps that pod's termination (preStop start to exit). */
function inFlight(requests: readonly ProbeRequest[], pods: readonly PodLane[]): InFlightRequest[] {
  const windows = new Map<string, { from: number; to: number }>();
  for (const p of pods) {
    const term = p.phases.filter((ph) => ph.phase !== 'ready');
    if (term.length === 0) continue;
    windows.set(p.pod, { from: term[0]!.startMs, to: term[term.length - 1]!.endMs });
  }
  const out: InFlightRequest[] = [];
  for (const r of requests) {
    const w = r.data.pod === undefined ? undefined : windows.get(r.data.pod);
    if (!w) continue;
    const startMs = Date.parse(r.data.startedAt);
    const endMs = startMs + r.data.durationMs;
    if (endMs < w.from || startMs > w.to) continue;
    out.push({ probeId: r.data.probeId, pod: r.data.pod!, startMs, endMs, ok: r.data.ok });
  }
  return out;
}

/**
 * Places one rollout's facts (ReportStore.facts) in time.
 * @param label what the run is called on the page ("naive", "drained"); default the rollout id.
 */
export function buildTimelineRun(facts: ReportFacts, label?: string): TimelineRun {
  const ro = facts.rollout;
  const report = computeReport(facts);
  const requests = facts.probes
    .filter((p): p is ProbeRequest => p.kind === 'probe.request')
    .sort((a, b) => a.data.startedAt.localeCompare(b.data.startedAt));
  let lastMs = ro.startedAt;
  const firstSeen = new Map<string, number>();
  for (const r of requests) {
    const t = Date.parse(r.data.startedAt);
    lastMs = Math.max(lastMs, t + r.data.durationMs);
    if (r.data.pod && !firstSeen.has(r.data.pod)) firstSeen.set(r.data.pod, t);
  }
  const endMs = ro.finishedAt ?? lastMs;
  const pods = lanes(facts, report, firstSeen, endMs);
  const websocketCloses: WebsocketClose[] = [];
  for (const p of facts.probes) {
    if (p.kind !== 'probe.websocket') continue;
    const d = p.data as EventData<'probe.websocket'>;
    if (d.event !== 'closed') continue;
    websocketCloses.push({
      atMs: Date.parse(d.at),
      pod: d.pod ?? null,
      code: d.code ?? null,
      sessionId: d.sessionId,
    });
  }
  const failures = allFailures(
    facts,
    requests.filter((r) => !r.data.ok),
  ).map((f) => ({
    probeId: f.probeId,
    sessionId: f.sessionId,
    atMs: Date.parse(f.time),
    route: f.route,
    status: f.status,
    error: f.error,
    pod: f.pod,
    phase: f.phase,
    cause: f.cause,
  }));
  return {
    label: label ?? ro.id,
    rolloutId: ro.id,
    namespace: ro.namespace,
    workload: ro.workload,
    outcome: report.outcome,
    startMs: ro.startedAt,
    endMs,
    summary: {
      requests: report.probeRequests.total,
      failed: report.probeRequests.failed,
      requestSuccess: report.scores.requestSuccess,
      sessionPersistence: report.scores.sessionPersistence,
      sessionsActive: report.sessions.active,
      sessionsLost: report.sessions.lost,
    },
    pods,
    inFlight: inFlight(requests, pods),
    failures,
    websocketCloses: websocketCloses.sort((a, b) => a.atMs - b.atMs),
    ...curves(facts, requests, ro.startedAt, endMs),
  };
}

/**
 * The timeline of one or more runs, validated against the model.
 * @throws TimelineDataError when the runs do not match it.
 */
export function buildTimeline(runs: readonly TimelineRun[], now: Date = new Date()): Timeline {
  return validateTimeline({ version: TIMELINE_VERSION, generatedAt: now.toISOString(), runs });
}

/**
 * Checks data (e.g. a parsed `--timeline-json` file) against the model.
 * @throws TimelineDataError naming the first mismatch.
 */
export function validateTimeline(data: unknown): Timeline {
  const parsed = timelineSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TimelineDataError(`${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}
