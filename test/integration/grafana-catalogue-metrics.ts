import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
  AGENT_METRICS,
  DRAIN_METRICS,
  HEALTH_METRICS,
  type MetricSpec,
} from '../../contract/metric-names.js';

// Phase-1 stand-in for the collector's /metrics: a prom-client Registry built from the catalogue
// the way the collector builds its own (same names, types, labels, buckets), served over real
// HTTP, and a scripted rollout that moves every series the dashboards read.

type AnyMetric = Counter<string> | Gauge<string> | Histogram<string>;

export interface CatalogueEndpoint {
  readonly target: string;
  readonly registry: Registry;
  metric(spec: MetricSpec): AnyMetric;
  stop(): Promise<void>;
}

export async function serveCatalogueMetrics(): Promise<CatalogueEndpoint> {
  const registry = new Registry();
  const byName = new Map<string, AnyMetric>();
  for (const spec of [
    ...Object.values(DRAIN_METRICS),
    ...Object.values(HEALTH_METRICS),
    ...Object.values(AGENT_METRICS),
  ] as MetricSpec[]) {
    const common = { name: spec.name, help: spec.help, labelNames: [...spec.labels], registers: [registry] };
    const metric =
      spec.type === 'counter'
        ? new Counter(common)
        : spec.type === 'gauge'
          ? new Gauge(common)
          : new Histogram({ ...common, buckets: [...(spec.buckets ?? [])] });
    byName.set(spec.name, metric);
  }
  const server: Server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  let stopping: Promise<void> | undefined;
  return {
    target: `127.0.0.1:${port}`,
    registry,
    metric(spec) {
      const m = byName.get(spec.name);
      if (!m) throw new Error(`${spec.name} is not in the catalogue`);
      return m;
    },
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      return stopping;
    },
  };
}

const WL = { namespace: 'shop', workload: 'cart' } as const;

/** Series at zero before the rollout, as the collector exports a workload it has seen. */
export function seedIdleWorkload(ep: CatalogueEndpoint): void {
  const D = DRAIN_METRICS;
  (ep.metric(D.rolloutInProgress) as Gauge<string>).set(WL, 0);
  for (const spec of [D.inFlightAtSigterm, D.inFlightCut, D.lateArrivals, D.killedAtGrace, D.messagesLost]) {
    (ep.metric(spec) as Counter<string>).inc(WL, 0);
  }
  (ep.metric(D.sessions) as Counter<string>).inc(WL, 0);
  (ep.metric(D.agentEventsDropped) as Counter<string>).inc(WL, 0);
  (ep.metric(HEALTH_METRICS.evidenceIncomplete) as Counter<string>).inc(WL, 0);
  for (const result of ['ok', 'failed', 'retried_ok'])
    (ep.metric(D.probeRequests) as Counter<string>).inc({ ...WL, result }, 0);
  for (const outcome of ['complete', 'failed'])
    (ep.metric(D.rolloutsTotal) as Counter<string>).inc({ ...WL, outcome }, 0);
  for (const result of ['clean', 'unclean'])
    (ep.metric(D.terminations) as Counter<string>).inc({ ...WL, result }, 0);
  (ep.metric(D.probeFailures) as Counter<string>).inc({ ...WL, cause: 'late-arrival', phase: 'draining' }, 0);
  (ep.metric(D.probeFailures) as Counter<string>).inc({ ...WL, cause: 'cut-in-flight', phase: 'serving' }, 0);
  for (const kind of ['5xx', 'reset']) (ep.metric(D.clientErrors) as Counter<string>).inc({ ...WL, kind }, 0);
  (ep.metric(D.sessionsLost) as Counter<string>).inc({ ...WL, cause: 'session-in-memory' }, 0);
  for (const code of ['1001', 'none'])
    (ep.metric(D.websocketCloses) as Counter<string>).inc({ ...WL, code }, 0);
  for (const kind of ['request', 'drain.summary'])
    (ep.metric(HEALTH_METRICS.eventsReceived) as Counter<string>).inc({ kind }, 0);
  (ep.metric(HEALTH_METRICS.eventsInvalid) as Counter<string>).inc({ reason: 'invalid-data' }, 0);
  for (const spec of [
    HEALTH_METRICS.eventsApplied,
    HEALTH_METRICS.eventsDuplicate,
    HEALTH_METRICS.redisErrors,
  ])
    (ep.metric(spec) as Counter<string>).inc(0);
  (ep.metric(HEALTH_METRICS.redisUp) as Gauge<string>).set(1);
  (ep.metric(HEALTH_METRICS.natsUp) as Gauge<string>).set(1);
  (ep.metric(HEALTH_METRICS.consumerPending) as Gauge<string>).set(0);
  (ep.metric(AGENT_METRICS.eventsBuffered) as Gauge<string>).set(0);
  (ep.metric(AGENT_METRICS.eventsPublished) as Counter<string>).inc(0);
  (ep.metric(AGENT_METRICS.eventsDropped) as Counter<string>).inc({ kind: 'request' }, 0);
  for (const phase of ['serving', 'draining'])
    (ep.metric(AGENT_METRICS.requests) as Counter<string>).inc({ phase, status_class: '2xx' }, 0);
}

/** One step of a rollout that replaces a pod badly enough to move every drain series. */
export function rolloutStep(ep: CatalogueEndpoint, step: number): void {
  const D = DRAIN_METRICS;
  const H = HEALTH_METRICS;
  const c = (spec: MetricSpec, labels: Record<string, string> = {}, by = 1): void =>
    (ep.metric(spec) as Counter<string>).inc({ ...WL, ...labels }, by);
  const pod = `cart-${step}`;
  (ep.metric(D.rolloutInProgress) as Gauge<string>).set(WL, 1);
  (ep.metric(D.podsTerminating) as Gauge<string>).set(WL, 1);
  c(D.probeRequests, { result: 'ok' }, 40);
  c(D.probeRequests, { result: 'failed' }, 2);
  c(D.probeRequests, { result: 'retried_ok' }, 1);
  c(D.probeFailures, { cause: 'late-arrival', phase: 'draining' });
  c(D.probeFailures, { cause: 'cut-in-flight', phase: 'serving' });
  c(D.clientErrors, { kind: '5xx' });
  c(D.clientErrors, { kind: 'reset' });
  c(D.sessions, {}, 10);
  c(D.sessionsLost, { cause: 'session-in-memory' });
  c(D.inFlightAtSigterm, {}, 3);
  c(D.inFlightCut);
  c(D.lateArrivals);
  c(D.killedAtGrace);
  c(D.terminations, { result: 'unclean' });
  c(D.websocketCloses, { code: '1001' }, 2);
  c(D.websocketCloses, { code: 'none' });
  c(D.messagesLost, {}, 2);
  c(D.agentEventsDropped);
  (ep.metric(D.endpointPropagation) as Histogram<string>).observe(WL, 1.5 + step / 10);
  (ep.metric(D.prestopDuration) as Histogram<string>).observe({ ...WL, reason: 'traffic-stopped' }, 4);
  (ep.metric(D.drainDuration) as Histogram<string>).observe(WL, 2.5);
  (ep.metric(D.podDrainSeconds) as Gauge<string>).set({ ...WL, pod }, 2.5);
  (ep.metric(D.podFailedRequests) as Gauge<string>).set({ ...WL, pod }, 2);
  (ep.metric(D.trafficSkew) as Gauge<string>).set(WL, 1.8);
  (ep.metric(D.stickyRouting) as Gauge<string>).set(WL, 0);
  (ep.metric(H.eventsReceived) as Counter<string>).inc({ kind: 'request' }, 20);
  (ep.metric(H.eventsReceived) as Counter<string>).inc({ kind: 'drain.summary' }, 1);
  (ep.metric(H.eventsInvalid) as Counter<string>).inc({ reason: 'invalid-data' }, 1);
  (ep.metric(H.eventsApplied) as Counter<string>).inc(20);
  (ep.metric(H.eventsDuplicate) as Counter<string>).inc(1);
  (ep.metric(H.ingestLag) as Histogram<string>).observe(0.02);
  (ep.metric(H.redisErrors) as Counter<string>).inc(1);
  (ep.metric(H.consumerPending) as Gauge<string>).set(step);
  (ep.metric(H.evidenceIncomplete) as Counter<string>).inc(WL, 1);
  (ep.metric(AGENT_METRICS.eventsBuffered) as Gauge<string>).set(step);
  (ep.metric(AGENT_METRICS.eventsPublished) as Counter<string>).inc(21);
  (ep.metric(AGENT_METRICS.eventsDropped) as Counter<string>).inc({ kind: 'request' }, 1);
  (ep.metric(AGENT_METRICS.requests) as Counter<string>).inc({ phase: 'serving', status_class: '2xx' }, 40);
  (ep.metric(AGENT_METRICS.requests) as Counter<string>).inc({ phase: 'draining', status_class: '2xx' }, 3);
}

/** The rollout ends: a finished rollout with its scores. */
export function finishRollout(ep: CatalogueEndpoint): void {
  const D = DRAIN_METRICS;
  (ep.metric(D.rolloutsTotal) as Counter<string>).inc({ ...WL, outcome: 'complete' });
  (ep.metric(D.rolloutDuration) as Histogram<string>).observe(WL, 42);
  (ep.metric(D.sessionPersistence) as Gauge<string>).set(WL, 0.9);
  (ep.metric(D.requestSuccess) as Gauge<string>).set(WL, 0.95);
  (ep.metric(D.cleanTerminations) as Gauge<string>).set(WL, 0);
  (ep.metric(D.gatePassed) as Gauge<string>).set(WL, 0);
  (ep.metric(D.podsTerminating) as Gauge<string>).set(WL, 0);
  (ep.metric(D.rolloutInProgress) as Gauge<string>).set(WL, 0);
}
