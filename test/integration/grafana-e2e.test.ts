import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type Collector, createCollector, type RolloutReport } from '../../collector/index.js';
import { DRAIN_METRICS } from '../../contract/index.js';
import { buildDashboards, expandGrafanaVariables, listDashboardQueries } from '../../grafana/src/index.js';
import { pollUntil } from '../../lib/wait.js';
import {
  type AgentUnderTest,
  startAgentUnderTest,
  startUpstreamApp,
  type UpstreamApp,
} from '../helpers/agent-harness.js';
import { type CollectorEnv, startCollectorEnv } from '../helpers/collector-harness.js';
import { NS, publishAll, type Scenario, scriptedRollout, WL } from '../helpers/collector-scenario.js';
import { type PromSample, type RunningPrometheus, startPrometheus } from './grafana-prometheus.js';

// End to end: a real Prometheus scrapes a real collector (fed by real events over a real
// nats-server, state in a real Redis) and a real agent every second while two scripted rollouts of
// shop/quote play out. Then every dashboard query and every rule goes to Prometheus's HTTP API.

const ROOT = join(import.meta.dirname, '../..');
const RULES = join(ROOT, 'manifests/alerts/drainwatch-rules.yaml');

// What Grafana substitutes with "All" selected; the 15m window covers the whole run (with room for
// a slow machine), the way a zoomed-out panel sees a whole rollout.
const VARIABLES = { namespace: '.*', workload: '.*', __rate_interval: '15m', datasource: 'prometheus' };

// Queries this run leaves empty, and why. Every other query must return a finite value.
const NOT_FILLED: Readonly<Record<string, string>> = {
  'Agent events dropped B': 'the agent drops nothing here: its per-kind drop counter is never created',
  // Drawn from a range query while the rollout was open; checked on its own below.
  'annotation:Rollouts annotation': 'the rollout is closed at query time',
  // These rollouts speak HTTP/1.1: the agent's h2 counters exist only once HTTP/2 traffic passed
  // (their values: test/fidelity/h2.test.ts; the rule on them: test/promtool/drainwatch-rules-h2.test.yaml).
  'HTTP/2 streams (gRPC calls) by outcome and phase A': 'no HTTP/2 traffic in these rollouts',
  'HTTP/2 GOAWAY sent by sender A': 'no HTTP/2 traffic in these rollouts',
  // Nor do their probes speak gRPC: the counters get report.grpc in
  // test/unit/collector-metrics-grpc.test.ts, the rule on them test/promtool/drainwatch-rules-grpc.test.yaml.
  'Probe gRPC calls by status A': 'no probe gRPC call in these rollouts',
  'Probe gRPC streams cut by cause A': 'no probe gRPC stream in these rollouts', // A replay only follows a Redis loss (its values: test/integration/redis-sentinel-failover-writes.test.ts).
  'Events replayed after a Redis loss A':
    'Redis loses nothing here: the replay counter has no series until a replay',
};

let env: CollectorEnv;
let collector: Collector;
let app: UpstreamApp;
let agent: AgentUnderTest;
let prom: RunningPrometheus;
const reports: RolloutReport[] = [];
let secondOpenAt = 0;
let secondClosedAt = 0;

async function value(expr: string): Promise<number> {
  const r = await prom.query(expr);
  const v = r.data?.result[0]?.value[1];
  return v === undefined ? Number.NaN : Number(v);
}

async function waitFor(expr: string, expected: number): Promise<void> {
  // Gauges follow the collector's refresh and Prometheus's 1 s scrape; the deadline allows for load.
  await pollUntil(async () => (await value(expr)) === expected, {
    timeoutMs: 60_000,
    intervalMs: 250,
    what: `prometheus: ${expr} == ${expected}`,
  });
}

const rollouts = (outcome: string) =>
  `sum(${DRAIN_METRICS.rolloutsTotal.name}{namespace="${NS}",workload="${WL}",outcome="${outcome}"})`;
const inProgress = `${DRAIN_METRICS.rolloutInProgress.name}{namespace="${NS}",workload="${WL}"}`;

/** Publishes a scripted rollout; the closing event only after Prometheus saw it open, if asked. */
async function playRollout(scenario: Scenario, observeOpen: boolean): Promise<void> {
  const last = scenario.events.at(-1)!;
  expect(last.type).toMatch(/rollout\.finished$/);
  await publishAll(env.nc, scenario.events.slice(0, -1), env.ns.subjectRoot);
  await collector.drain(30_000);
  if (observeOpen) {
    await waitFor(inProgress, 1);
    secondOpenAt = Date.now() / 1000;
  }
  await publishAll(env.nc, [last], env.ns.subjectRoot);
  await collector.drain(30_000);
  const report = await pollUntil(() => collector.store.getReport(scenario.rolloutId), {
    timeoutMs: 30_000,
    intervalMs: 100,
    what: `report of ${scenario.rolloutId}`,
  });
  reports.push(report);
}

beforeAll(async () => {
  env = await startCollectorEnv();
  // Gauges are recomputed every refresh (10 s by default); 1 s keeps the test short.
  collector = createCollector(
    { ...env.config(), refreshIntervalMs: 1000 },
    { nats: env.nc, redis: env.redis },
  );
  const { http } = await collector.start();
  app = await startUpstreamApp();
  agent = await startAgentUnderTest({ upstreamPort: app.port, natsUrl: env.servers.nats.url, ns: env.ns });
  prom = await startPrometheus({
    jobs: {
      'drainwatch-collector': [`127.0.0.1:${http.port}`],
      'drainwatch-agent': [new URL(agent.adminUrl).host],
    },
    // Kubernetes service discovery adds the scraped pod's namespace; here it is a static label.
    // The collector lives in its own namespace but its series name the workloads' namespaces, so
    // its scrape must honour them (ServiceMonitor `honorLabels: true`), as set up here.
    jobLabels: { 'drainwatch-agent': { namespace: NS }, 'drainwatch-collector': { namespace: 'drainwatch' } },
    honorLabels: ['drainwatch-collector'],
    ruleFiles: [RULES],
  });
  await waitFor('sum(up)', 2);

  // Real traffic through the agent, for its own request counters.
  for (let i = 0; i < 5; i++) expect((await fetch(`${agent.trafficUrl}/hello`)).status).toBe(200);

  // Rollout 1 closes and is scraped; rollout 2 is seen open, then closes. Scenario times are real
  // (recent) so the collector's quiet timeout never closes them early.
  const now = Date.now();
  await playRollout(scriptedRollout(now - 230_000), false);
  await waitFor(rollouts('complete'), 1);
  await playRollout(scriptedRollout(now - 60_000), true);
  await waitFor(rollouts('complete'), 2);
  await waitFor(inProgress, 0);
  secondClosedAt = Date.now() / 1000;
  // A poison message: the invalid-events panel must show it.
  await env.nc.request(`${env.ns.subjectRoot}.v1.${NS}.${WL}._.probe.request`, 'not json', { timeout: 5000 });
  await collector.drain(30_000);
  await pollUntil(async () => (await value('sum(drainwatch_events_invalid_total)')) >= 1, {
    timeoutMs: 30_000,
    intervalMs: 250,
    what: 'the invalid event scraped',
  });
}, 180_000);

afterAll(async () => {
  await prom?.stop();
  await agent?.agent.stop({ immediate: true });
  await app?.close();
  await collector?.stop();
  await env?.stop();
});

const queries = listDashboardQueries(buildDashboards());
const run = (expr: string) => prom.query(expandGrafanaVariables(expr, VARIABLES));

function panelQuery(panel: string, refId = 'A'): string {
  const q = queries.find((x) => x.panel === panel && x.refId === refId);
  if (!q) throw new Error(`no query ${panel} ${refId}`);
  return q.expr;
}

/** The query's result for shop/quote, keyed by the value of `label` (or "" without one). */
async function quoteSeries(panel: string, label?: string, refId = 'A'): Promise<Record<string, number>> {
  const r = await run(panelQuery(panel, refId));
  expect(r.status).toBe('success');
  const mine = (r.data?.result ?? []).filter((s: PromSample) => s.metric.workload === WL);
  return Object.fromEntries(mine.map((s) => [label ? (s.metric[label] ?? '') : '', Number(s.value[1])]));
}

function sumOver<K extends string>(pick: (r: RolloutReport) => Readonly<Partial<Record<K, number>>>) {
  const out: Record<string, number> = {};
  for (const r of reports) {
    for (const [k, v] of Object.entries(pick(r)) as [string, number][]) if (v > 0) out[k] = (out[k] ?? 0) + v;
  }
  return out;
}

function countOver(pick: (r: RolloutReport) => readonly string[]) {
  const out: Record<string, number> = {};
  for (const r of reports) for (const k of pick(r)) out[k] = (out[k] ?? 0) + 1;
  return out;
}

describe('dashboards against a real Prometheus scraping a real collector', () => {
  it('every panel and annotation query parses', async () => {
    const failures: string[] = [];
    for (const q of queries) {
      const r = await run(q.expr);
      if (r.status !== 'success') failures.push(`${q.dashboard} / ${q.panel} ${q.refId}: ${r.error}`);
    }
    expect(failures).toEqual([]);
  });

  it('every panel the rollouts fill returns data', async () => {
    const empty: string[] = [];
    for (const q of queries) {
      if (NOT_FILLED[`${q.panel} ${q.refId}`]) continue;
      const r = await run(q.expr);
      const finite = (r.data?.result ?? []).filter((s) => Number.isFinite(Number(s.value[1])));
      if (finite.length === 0) empty.push(`${q.dashboard} / ${q.panel} ${q.refId}`);
    }
    expect(empty).toEqual([]);
  });

  it("panels show the collector's own report figures, summed over both rollouts", async () => {
    expect(reports).toHaveLength(2);
    const latest = reports[1]!;
    expect(await quoteSeries('Session persistence')).toEqual({ '': latest.scores.sessionPersistence });
    expect(await quoteSeries('Request success')).toEqual({ '': latest.scores.requestSuccess });
    expect(await quoteSeries('Clean terminations')).toEqual({ '': latest.scores.cleanTerminations });
    expect(await quoteSeries('Failed probe requests by cause', 'cause')).toEqual(
      countOver((r) => r.failures.map((f) => f.cause)),
    );
    expect(await quoteSeries('Failed probe requests by pod phase at arrival', 'phase')).toEqual(
      countOver((r) => r.failures.map((f) => f.phase)),
    );
    expect(await quoteSeries('Sessions lost by cause', 'cause')).toEqual(
      sumOver((r) => r.sessions.lostByCause),
    );
    expect(await quoteSeries('Late arrivals')).toEqual({
      '': reports[0]!.lateArrivals + latest.lateArrivals,
    });
    expect(await quoteSeries('In-flight requests at SIGTERM and cut at exit', undefined, 'B')).toEqual({
      '': reports[0]!.inFlightCut + latest.inFlightCut,
    });
    expect(await quoteSeries('WebSocket closes by code', 'code')).toEqual(sumOver((r) => r.websocketCloses));
    expect(await quoteSeries('WebSocket messages lost')).toEqual({
      '': reports[0]!.messagesLost + latest.messagesLost,
    });
    expect(await quoteSeries('Rollouts by outcome', 'outcome')).toEqual({ complete: 2 });
  });

  it('the rollout annotation covers the time the second rollout was open', async () => {
    const annotation = queries.find((q) => q.panel === 'annotation:Rollouts')!;
    const params = new URLSearchParams({
      query: expandGrafanaVariables(annotation.expr, VARIABLES),
      start: String(secondOpenAt - 30),
      end: String(secondClosedAt),
      step: '1',
    });
    const r = await prom.api<{ result: { metric: Record<string, string>; values: [number, string][] }[] }>(
      `query_range?${params}`,
    );
    expect(r.status).toBe('success');
    const series = (r.data?.result ?? []).filter((s) => s.metric.workload === WL);
    expect(series).toHaveLength(1);
    const times = series[0]!.values.map(([t]) => t);
    // One 1 s step of tolerance: the open state was first seen somewhere in the last step.
    expect(Math.min(...times)).toBeLessThanOrEqual(secondOpenAt + 1);
    expect(Math.max(...times)).toBeLessThan(secondClosedAt);
  });

  it('the namespace and workload variables find the workload', async () => {
    const name = DRAIN_METRICS.rolloutInProgress.name;
    const ns = await prom.api<string[]>(`label/namespace/values?match[]=${encodeURIComponent(name)}`);
    expect(ns.data).toEqual([NS]);
    const wl = await prom.api<string[]>(
      `label/workload/values?match[]=${encodeURIComponent(`${name}{namespace=~"${NS}"}`)}`,
    );
    expect(wl.data).toContain(WL);
  });
});

describe('alert rules against a real Prometheus scraping a real collector', () => {
  interface Rule {
    alert?: string;
    record?: string;
    expr: string;
  }
  const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap(
    (g) => g.rules,
  );

  it('every alert and recording expression parses', async () => {
    const failures: string[] = [];
    for (const rule of rules) {
      const r = await prom.query(rule.expr);
      if (r.status !== 'success') failures.push(`${rule.alert ?? rule.record}: ${r.error}`);
    }
    expect(failures).toEqual([]);
  });

  it('Prometheus loaded every rule and evaluates it without error', async () => {
    type RulesData = { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
    const loaded = await pollUntil(
      async () => {
        const r = await prom.api<RulesData>('rules');
        const all = (r.data?.groups ?? []).flatMap((g) => g.rules);
        return all.length === rules.length && all.every((x) => x.health !== 'unknown') ? all : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'every rule evaluated once' },
    );
    expect(loaded.filter((x) => x.health !== 'ok').map((x) => `${x.name}: ${x.lastError}`)).toEqual([]);
  });

  it("the second rollout's failures fire their alerts for shop/quote, and nothing else fires", async () => {
    const expected = [
      'DrainwatchInflightRequestsCut',
      'DrainwatchLateArrivals',
      'DrainwatchPodsKilledAtGrace',
      'DrainwatchProbeRequestsFailing',
      'DrainwatchSessionsLost',
      'DrainwatchWebSocketsClosedWithoutCloseFrame',
    ];
    type AlertsData = { alerts: { labels: Record<string, string>; state: string }[] };
    const firing = await pollUntil(
      async () => {
        const r = await prom.api<AlertsData>('alerts');
        const alerts = (r.data?.alerts ?? []).filter((a) => a.state === 'firing');
        const names = alerts.map((a) => `${a.labels.alertname} ${a.labels.namespace}/${a.labels.workload}`);
        return expected.every((e) => names.includes(`${e} ${NS}/${WL}`)) ? names.sort() : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the rollout alerts to fire' },
    );
    expect(firing).toEqual(expected.map((e) => `${e} ${NS}/${WL}`));
  });
});
