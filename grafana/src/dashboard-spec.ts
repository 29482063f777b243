import { AGENT_METRICS, DRAIN_METRICS, HEALTH_METRICS, type MetricSpec } from '../../contract/index.js';
import { gaugeBy, quantile } from './promql.js';

// The shapes of the dashboards as data (rows of panel specs) and the panel helpers both dashboards
// use. Keeping the specs declarative makes the panel list easy to review next to
// docs/architecture.md §5; dashboards.ts turns them into Grafana JSON.

export interface TargetSpec {
  readonly expr: string;
  readonly legend: string;
}

export interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly kind: 'timeseries' | 'stat';
  readonly unit: string;
  readonly targets: readonly TargetSpec[];
  /** Fixed axis range, e.g. [0, 1] for the scores. */
  readonly range?: readonly [number, number];
  /** Stack series (counts split by a label). */
  readonly stacked?: boolean;
  /** Grid width out of 24. */
  readonly width?: number;
  /** Stat thresholds: [value, colour] steps above the base colour. */
  readonly thresholds?: { readonly base: string; readonly steps: readonly (readonly [number, string])[] };
}

export interface RowSpec {
  readonly title: string;
  readonly panels: readonly PanelSpec[];
}

export interface DashboardSpec {
  /** File name (without `.json`) and Grafana uid. */
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly rows: readonly RowSpec[];
  /** Rollout regions drawn on every time series. */
  readonly rolloutAnnotations: boolean;
}

export const WL = ['namespace', 'workload'] as const;
export const WL_LEGEND = '{{namespace}}/{{workload}}';
export const D = DRAIN_METRICS;
export const H = HEALTH_METRICS;
export const A = AGENT_METRICS;

/** The median and the 99th percentile of a histogram, legends `p50<suffix>` and `p99<suffix>`. */
export function p50p99(
  metric: MetricSpec,
  by: readonly string[],
  legendSuffix: string,
  options: Parameters<typeof quantile>[3] = {},
): { expr: string; legend: string }[] {
  return [0.5, 0.99].map((q) => ({
    expr: quantile(q, metric, by, options),
    legend: `p${Math.round(q * 100)}${legendSuffix}`,
  }));
}

export const RED_WHEN_POSITIVE = { base: 'green', steps: [[1, 'red']] } as const;

export const score = (title: string, description: string, metric: MetricSpec): PanelSpec => ({
  title,
  description,
  kind: 'timeseries',
  unit: 'percentunit',
  range: [0, 1],
  width: 8,
  targets: [{ expr: gaugeBy('min', metric, WL), legend: WL_LEGEND }],
});
