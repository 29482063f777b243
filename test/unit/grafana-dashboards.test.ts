import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_METRICS, DRAIN_METRICS, HEALTH_METRICS, type MetricSpec } from '../../contract/index.js';
import {
  buildDashboards,
  expandGrafanaVariables,
  listDashboardQueries,
  renderDashboardFiles,
} from '../../grafana/src/index.js';

const DASHBOARD_DIR = join(import.meta.dirname, '../../grafana/dashboards');
const CATALOGUE: readonly MetricSpec[] = [
  ...Object.values(DRAIN_METRICS),
  ...Object.values(HEALTH_METRICS),
  ...Object.values(AGENT_METRICS),
];
const BY_NAME = new Map(CATALOGUE.map((m) => [m.name, m]));

/** The catalogue metric a series name belongs to (histograms expose _bucket/_sum/_count). */
function metricOf(series: string): MetricSpec | undefined {
  const direct = BY_NAME.get(series);
  if (direct) return direct;
  const base = series.replace(/_(bucket|sum|count)$/, '');
  const hist = BY_NAME.get(base);
  return hist?.type === 'histogram' ? hist : undefined;
}

const dashboards = buildDashboards();
const queries = listDashboardQueries(dashboards);

interface PanelJson {
  id?: number;
  type?: string;
  title?: string;
  targets?: { refId?: string; expr?: string; datasource?: { uid?: string } }[];
}

function panelsOf(name: string): PanelJson[] {
  return ((dashboards[name] as { panels?: PanelJson[] }).panels ?? []).filter((p) => p.type !== 'row');
}

describe('committed dashboards', () => {
  it('grafana/dashboards/*.json is exactly what the generator writes (run node dist/grafana/src/generate.js)', () => {
    const expected = renderDashboardFiles();
    const committed = readdirSync(DASHBOARD_DIR).filter((f) => f.endsWith('.json'));
    expect(committed.sort()).toEqual(Object.keys(expected).sort());
    for (const [name, text] of Object.entries(expected)) {
      expect(readFileSync(join(DASHBOARD_DIR, name), 'utf8'), `${name} drifted from the generator`).toBe(
        text,
      );
    }
  });

  it('builds the two dashboards the issue asks for', () => {
    expect(Object.keys(dashboards).sort()).toEqual(['drainwatch-health', 'drainwatch-rollout-drain-quality']);
  });
});

describe('dashboard queries', () => {
  it('every series a query names is in the metric catalogue', () => {
    for (const q of queries) {
      const names = q.expr.match(/\bdrainwatch_[a-z0-9_]+/g) ?? [];
      expect(names.length, `${q.dashboard} / ${q.panel} names no drainwatch metric`).toBeGreaterThan(0);
      for (const n of names) expect(metricOf(n), `${q.dashboard} / ${q.panel}: ${n}`).toBeDefined();
    }
  });

  it('every rollout and collector metric is shown somewhere', () => {
    const shown = new Set(
      queries.flatMap((q) => (q.expr.match(/\bdrainwatch_[a-z0-9_]+/g) ?? []).map((n) => metricOf(n)?.name)),
    );
    const missing = [...Object.values(DRAIN_METRICS), ...Object.values(HEALTH_METRICS)]
      .map((m) => m.name)
      .filter((n) => !shown.has(n));
    expect(missing).toEqual([]);
  });

  it('filters by $namespace and $workload wherever the metric carries those labels', () => {
    for (const q of queries) {
      for (const n of q.expr.match(
        /\bdrainwatch_[a-z0-9_]+\{[^}]*\}|\bdrainwatch_[a-z0-9_]+(?![a-z0-9_{])/g,
      ) ?? []) {
        const metric = metricOf(n.split('{')[0] as string)!;
        const matchers = n.includes('{') ? n.slice(n.indexOf('{')) : '';
        const where = `${q.dashboard} / ${q.panel}: ${n}`;
        if (metric.labels.includes('namespace') || metric === AGENT_METRICS.eventsBuffered) {
          expect(matchers, where).toContain('namespace=~"$namespace"');
        }
        if (metric.labels.includes('workload')) expect(matchers, where).toContain('workload=~"$workload"');
      }
    }
  });

  it('uses regex matchers so the All option (.*) selects everything', () => {
    for (const name of Object.keys(dashboards)) {
      const vars = (dashboards[name] as { templating: { list: { name: string; allValue?: string }[] } })
        .templating.list;
      const byName = new Map(vars.map((v) => [v.name, v]));
      expect(byName.get('namespace')?.allValue, name).toBe('.*');
      expect(byName.get('workload')?.allValue, name).toBe('.*');
      expect(byName.has('datasource'), name).toBe(true);
    }
    expect(queries.every((q) => !/(namespace|workload)="\$/.test(q.expr))).toBe(true);
  });

  it('draws rollouts as annotations from drainwatch_rollout_in_progress', () => {
    const annotations = queries.filter((q) => q.panel.startsWith('annotation:'));
    expect(annotations.map((q) => q.dashboard).sort()).toEqual([
      'drainwatch-health',
      'drainwatch-rollout-drain-quality',
    ]);
    for (const a of annotations) expect(a.expr).toContain(DRAIN_METRICS.rolloutInProgress.name);
  });

  it('gives every panel a unique id and its targets unique refIds and the templated data source', () => {
    for (const name of Object.keys(dashboards)) {
      const panels = panelsOf(name);
      const ids = panels.map((p) => p.id);
      expect(new Set(ids).size, name).toBe(ids.length);
      for (const p of panels) {
        const refIds = (p.targets ?? []).map((t) => t.refId);
        expect(new Set(refIds).size, `${name} / ${p.title}`).toBe(refIds.length);
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
        for (const t of p.targets ?? []) expect(t.datasource?.uid).toBe('${datasource}');
      }
    }
  });

  it('covers the panels the issue lists for rollout drain quality', () => {
    const titles = panelsOf('drainwatch-rollout-drain-quality').map((p) => p.title?.toLowerCase() ?? '');
    for (const want of [
      'session persistence',
      'request success',
      'clean terminations',
      'by cause',
      'by pod phase',
      'at sigterm',
      'late arrivals',
      'endpoint propagation',
      'prestop',
      'drain duration',
      'websocket closes by code',
      'messages lost',
      'traffic skew',
      'pods terminating',
    ]) {
      expect(
        titles.some((t) => t.includes(want)),
        want,
      ).toBe(true);
    }
  });
});

describe('expandGrafanaVariables', () => {
  it('replaces known variables in both spellings and leaves unknown ones for Prometheus to refuse', () => {
    const out = expandGrafanaVariables(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
      'rate(x{a=~"$namespace",b=~"${workload}"}[$__rate_interval]) + $other',
      {
        namespace: '.*',
        workload: 'cart|checkout',
        __rate_interval: '1m',
      },
    );
    expect(out).toBe('rate(x{a=~".*",b=~"cart|checkout"}[1m]) + $other');
  });
});
