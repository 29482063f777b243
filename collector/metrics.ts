import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { DRAIN_METRICS, grpcStatusName, HEALTH_METRICS, type MetricSpec } from '../contract/index.js';
import type { GrpcFigures } from './report-grpc.js';
import type { RolloutReport } from './report-types.js';

// The collector's Prometheus metrics, built from the shared catalogue so names, types, labels and
// help can never drift from what dashboards and alerts read.

type Labels = Record<string, string>;
type AnyMetric = Counter<string> | Gauge<string> | Histogram<string>;

function build(spec: MetricSpec, registry: Registry): AnyMetric {
  const common = { name: spec.name, help: spec.help, labelNames: [...spec.labels], registers: [registry] };
  switch (spec.type) {
    case 'counter':
      return new Counter(common);
    case 'gauge':
      return new Gauge(common);
    case 'histogram':
      return new Histogram({ ...common, buckets: [...(spec.buckets ?? [])] });
  }
}

type Built<T extends Record<string, MetricSpec>> = {
  readonly [K in keyof T]: T[K]['type'] extends 'counter'
    ? Counter<string>
    : T[K]['type'] extends 'gauge'
      ? Gauge<string>
      : Histogram<string>;
};

function buildAll<T extends Record<string, MetricSpec>>(specs: T, registry: Registry): Built<T> {
  return Object.fromEntries(Object.entries(specs).map(([k, s]) => [k, build(s, registry)])) as Built<T>;
}

/**
 * A rollout's gRPC figures (report.grpc) as counters: calls by status name (the calls OK are the
 * calls without a failed status) and server streams cut by cause. report.grpc counts the rollout
 * window's calls only (not the baseline's), like the request counters above.
 */
function recordGrpc(drain: Built<typeof DRAIN_METRICS>, wl: Labels, g: GrpcFigures): void {
  let failed = 0;
  for (const [code, n] of Object.entries(g.failedByStatus)) {
    if (n <= 0) continue;
    failed += n;
    drain.probeGrpcCalls.inc({ ...wl, code: grpcStatusName(code) }, n);
  }
  if (g.calls - failed > 0) drain.probeGrpcCalls.inc({ ...wl, code: grpcStatusName(0) }, g.calls - failed);
  for (const [cause, n] of Object.entries(g.streamsCutByCause))
    if (n > 0) drain.probeGrpcStreamsCut.inc({ ...wl, cause }, n);
}

export interface CollectorMetrics {
  readonly drain: Built<typeof DRAIN_METRICS>;
  readonly health: Built<typeof HEALTH_METRICS>;
  /** Adds the figures of a rollout that just closed to the counters and histograms. */
  recordClosed(report: RolloutReport, nowMs: number): void;
  /** Sets the "latest rollout" gauges of a workload from its newest report. */
  setLatest(report: RolloutReport, gate: number): void;
  /** Sets the workload gauges that describe what is open right now. */
  setOpen(namespace: string, workload: string, open: boolean, terminating: number): void;
  /** Removes every workload gauge: this replica no longer exports them (another holds the lease). */
  clearWorkloadGauges(): void;
  /** Removes per-termination pod series older than the expiry. */
  expirePodSeries(nowMs: number): void;
}

export function createCollectorMetrics(
  registry: Registry,
  options: { podSeriesExpiryMs: number },
): CollectorMetrics {
  const drain = buildAll(DRAIN_METRICS, registry);
  const health = buildAll(HEALTH_METRICS, registry);
  // Per-termination series and when they were set, so they can expire (bounded cardinality).
  const podSeries = new Map<string, { labels: Labels; setAtMs: number }>();

  return {
    drain,
    health,
    recordClosed(r, nowMs) {
      const wl: Labels = { namespace: r.namespace, workload: r.workload };
      drain.rolloutsTotal.inc({ ...wl, outcome: r.outcome });
      if (r.durationSeconds !== null) drain.rolloutDuration.observe(wl, r.durationSeconds);
      drain.probeRequests.inc({ ...wl, result: 'ok' }, r.probeRequests.ok);
      drain.probeRequests.inc({ ...wl, result: 'failed' }, r.probeRequests.failed);
      drain.probeRequests.inc({ ...wl, result: 'retried_ok' }, r.probeRequests.retriedOk);
      // The rollout's failures only: the baseline's are the app's own defects (r.baseline).
      const rolloutFailures = r.failures.filter((f) => !f.beforeRollout);
      for (const f of rolloutFailures) drain.probeFailures.inc({ ...wl, cause: f.cause, phase: f.phase });
      if (r.failuresTruncated) {
        // The listed failures stop at a cap; the remainder is counted without a phase.
        const listed = rolloutFailures.length;
        const extra = r.probeRequests.failed - listed;
        if (extra > 0) drain.probeFailures.inc({ ...wl, cause: 'other', phase: 'unknown' }, extra);
      }
      for (const [kind, n] of Object.entries(r.clientErrors))
        if (n > 0) drain.clientErrors.inc({ ...wl, kind }, n);
      drain.sessions.inc(wl, r.sessions.active);
      for (const [cause, n] of Object.entries(r.sessions.lostByCause)) {
        if (n > 0) drain.sessionsLost.inc({ ...wl, cause }, n);
      }
      drain.inFlightAtSigterm.inc(wl, r.inFlightAtSigterm);
      drain.inFlightCut.inc(wl, r.inFlightCut);
      drain.lateArrivals.inc(wl, r.lateArrivals);
      for (const [code, n] of Object.entries(r.websocketCloses))
        drain.websocketCloses.inc({ ...wl, code }, n);
      drain.messagesLost.inc(wl, r.messagesLost);
      if (r.grpc) recordGrpc(drain, wl, r.grpc);
      drain.agentEventsDropped.inc(wl, r.agentEventsDropped);
      if (r.evidenceIncomplete.length > 0) health.evidenceIncomplete.inc(wl, r.evidenceIncomplete.length);
      for (const t of r.terminations) {
        drain.terminations.inc({ ...wl, result: t.clean ? 'clean' : 'unclean' });
        if (t.killedAtGrace) drain.killedAtGrace.inc(wl);
        if (t.endpointPropagationMs !== null)
          drain.endpointPropagation.observe(wl, t.endpointPropagationMs / 1000);
        if (t.prestopMs !== null) {
          drain.prestopDuration.observe({ ...wl, reason: t.prestopReason ?? 'unknown' }, t.prestopMs / 1000);
        }
        if (t.drainMs !== null) drain.drainDuration.observe(wl, t.drainMs / 1000);
        const podLabels = { ...wl, pod: t.pod };
        if (t.drainMs !== null) drain.podDrainSeconds.set(podLabels, t.drainMs / 1000);
        drain.podFailedRequests.set(podLabels, t.failedProbeRequests);
        podSeries.set(JSON.stringify(podLabels), { labels: podLabels, setAtMs: nowMs });
      }
    },
    setLatest(r, gate) {
      const wl: Labels = { namespace: r.namespace, workload: r.workload };
      const setOrRemove = (g: Gauge<string>, v: number | null) => {
        if (v === null) g.remove(wl);
        else g.set(wl, v);
      };
      setOrRemove(drain.sessionPersistence, r.scores.sessionPersistence);
      setOrRemove(drain.requestSuccess, r.scores.requestSuccess);
      setOrRemove(drain.cleanTerminations, r.scores.cleanTerminations);
      setOrRemove(drain.trafficSkew, r.trafficSkew);
      drain.stickyRouting.set(wl, r.stickyRouting ? 1 : 0);
      if (r.outcome !== 'open') {
        const v = r.scores.sessionPersistence;
        drain.gatePassed.set(wl, v !== null && v >= gate ? 1 : 0);
      }
    },
    setOpen(namespace, workload, open, terminating) {
      const wl: Labels = { namespace, workload };
      drain.rolloutInProgress.set(wl, open ? 1 : 0);
      drain.podsTerminating.set(wl, terminating);
    },
    clearWorkloadGauges() {
      for (const g of [
        drain.sessionPersistence,
        drain.requestSuccess,
        drain.cleanTerminations,
        drain.trafficSkew,
        drain.stickyRouting,
        drain.gatePassed,
        drain.rolloutInProgress,
        drain.podsTerminating,
      ]) {
        g.reset();
      }
    },
    expirePodSeries(nowMs) {
      for (const [key, s] of podSeries) {
        if (nowMs - s.setAtMs < options.podSeriesExpiryMs) continue;
        drain.podDrainSeconds.remove(s.labels);
        drain.podFailedRequests.remove(s.labels);
        podSeries.delete(key);
      }
    },
  };
}
