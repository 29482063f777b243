import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { DRAIN_METRICS } from '../../contract/metric-names.js';
import { buildDashboards, expandGrafanaVariables, listDashboardQueries } from '../../grafana/src/index.js';
import { pollUntil } from '../../lib/wait.js';
import {
  type CatalogueEndpoint,
  finishRollout,
  rolloutStep,
  seedIdleWorkload,
  serveCatalogueMetrics,
} from './grafana-catalogue-metrics.js';
import { type RunningPrometheus, startPrometheus } from './grafana-prometheus.js';

// End to end: a real Prometheus scrapes a real metrics endpoint every second while a rollout
// plays out, then every dashboard query and every alert expression goes to its HTTP API.

const ROOT = join(import.meta.dirname, '../..');
const RULES = join(ROOT, 'manifests/alerts/drainwatch-rules.yaml');
const ROLLOUT_STEPS = 4;

// What Grafana substitutes with "All" selected; the 5m window covers the whole run, the way a
// zoomed-out panel sees a whole rollout.
const VARIABLES = { namespace: '.*', workload: '.*', __rate_interval: '5m', datasource: 'prometheus' };

// Panels this run does not fill, with the reason. Everything else must return a finite value.
const NOT_FILLED: Readonly<Record<string, string>> = {
  // The annotation is drawn from a range query while the rollout was open, checked separately.
  'annotation:Rollouts': 'rollout closed at query time',
};

let metrics: CatalogueEndpoint;
let prom: RunningPrometheus;
let rolloutStart = 0;
let rolloutEnd = 0;

async function scrapedValue(expr: string): Promise<number> {
  const r = await prom.query(expr);
  const v = r.data?.result[0]?.value[1];
  return v === undefined ? Number.NaN : Number(v);
}

/** Waits until Prometheus has scraped the endpoint after its latest change. */
async function waitForScrapeOf(expr: string, expected: number): Promise<void> {
  await pollUntil(async () => (await scrapedValue(expr)) === expected, {
    timeoutMs: 30_000,
    intervalMs: 200,
    what: `prometheus to scrape ${expr} == ${expected}`,
  });
}

beforeAll(async () => {
  metrics = await serveCatalogueMetrics();
  seedIdleWorkload(metrics);
  prom = await startPrometheus({ jobs: { 'drainwatch-collector': [metrics.target] }, ruleFiles: [RULES] });
  await waitForScrapeOf('up{job="drainwatch-collector"}', 1);
  await waitForScrapeOf(`${DRAIN_METRICS.rolloutInProgress.name}{workload="cart"}`, 0);
  rolloutStart = Date.now() / 1000;
  const failed = `sum(${DRAIN_METRICS.probeRequests.name}{result="failed"})`;
  for (let step = 1; step <= ROLLOUT_STEPS; step++) {
    rolloutStep(metrics, step);
    // One scrape per step, so counters move across several samples as in a real rollout.
    await waitForScrapeOf(failed, 2 * step);
  }
  finishRollout(metrics);
  await waitForScrapeOf(`${DRAIN_METRICS.rolloutInProgress.name}{workload="cart"}`, 0);
  rolloutEnd = Date.now() / 1000;
}, 90_000);

afterAll(async () => {
  await prom?.stop();
  await metrics?.stop();
});

describe('dashboards against a real Prometheus', () => {
  const queries = listDashboardQueries(buildDashboards());

  it('every panel and annotation query parses', async () => {
    const failures: string[] = [];
    for (const q of queries) {
      const r = await prom.query(expandGrafanaVariables(q.expr, VARIABLES));
      if (r.status !== 'success') failures.push(`${q.dashboard} / ${q.panel} ${q.refId}: ${r.error}`);
    }
    expect(failures).toEqual([]);
  });

  it('every panel the rollout fills returns data', async () => {
    const empty: string[] = [];
    for (const q of queries) {
      if (NOT_FILLED[q.panel]) continue;
      const r = await prom.query(expandGrafanaVariables(q.expr, VARIABLES));
      const finite = (r.data?.result ?? []).filter((s) => Number.isFinite(Number(s.value[1])));
      if (finite.length === 0) empty.push(`${q.dashboard} / ${q.panel} ${q.refId}`);
    }
    expect(empty).toEqual([]);
  });

  it('the rollout annotation marks the rollout window', async () => {
    const annotation = queries.find((q) => q.panel === 'annotation:Rollouts');
    const expr = expandGrafanaVariables(annotation!.expr, VARIABLES);
    const r = await prom.api<{ result: { metric: Record<string, string>; values: [number, string][] }[] }>(
      `query_range?${new URLSearchParams({ query: expr, start: String(rolloutStart - 5), end: String(rolloutEnd), step: '1' })}`,
    );
    expect(r.status).toBe('success');
    const series = r.data?.result ?? [];
    expect(series.map((s) => s.metric.workload)).toEqual(['cart']);
    const times = series[0]!.values.map(([t]) => t);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(rolloutStart - 1);
  });

  it('the namespace and workload variables find the workload', async () => {
    const name = DRAIN_METRICS.rolloutInProgress.name;
    const ns = await prom.api<string[]>(`label/namespace/values?match[]=${encodeURIComponent(name)}`);
    expect(ns.data).toEqual(['shop']);
    const wl = await prom.api<string[]>(
      `label/workload/values?match[]=${encodeURIComponent(`${name}{namespace=~"shop"}`)}`,
    );
    expect(wl.data).toEqual(['cart']);
  });
});

describe('alert rules against a real Prometheus', () => {
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

  it('the rollout alerts fire on what the rollout did, and the collector alerts stay silent', async () => {
    const expected = [
      'DrainwatchAgentEventsDropped',
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
        const names = [
          ...new Set(
            (r.data?.alerts ?? []).filter((a) => a.state === 'firing').map((a) => a.labels.alertname),
          ),
        ].sort();
        return expected.every((e) => names.includes(e)) ? names : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the rollout alerts to fire' },
    );
    expect(firing).toEqual(expected);
  });
});
