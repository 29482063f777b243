import type { MetricSpec } from '../../contract/index.js';

// PromQL building blocks for the dashboards. Every expression names its metric through the
// catalogue entry (contract/metric-names.ts), so a renamed metric fails the type-check or the
// drift test instead of leaving a silently empty panel.

/** Grafana's template variables as they appear inside queries. */
export const DASHBOARD_VARIABLES = {
  namespace: '$namespace',
  workload: '$workload',
  rateInterval: '$__rate_interval',
} as const;

// Regex matchers so the "All" option (allValue `.*`) and multi-select (`a|b`) both work, and
// `.*` also matches series scraped without the label (agent pods without relabelling).
const NAMESPACE_MATCHER = `namespace=~"${DASHBOARD_VARIABLES.namespace}"`;
const WORKLOAD_MATCHERS = `${NAMESPACE_MATCHER}, workload=~"${DASHBOARD_VARIABLES.workload}"`;

export type Scope = 'workload' | 'namespace' | 'none';

function matchers(scope: Scope, extra: readonly string[]): string {
  const base = scope === 'workload' ? [WORKLOAD_MATCHERS] : scope === 'namespace' ? [NAMESPACE_MATCHER] : [];
  const all = [...base, ...extra];
  return all.length === 0 ? '' : `{${all.join(', ')}}`;
}

/** `metric{namespace=~"$namespace", workload=~"$workload", ...extra}` (suffix e.g. `_bucket`). */
export function selector(
  metric: MetricSpec,
  options: { scope?: Scope; suffix?: string; extra?: readonly string[] } = {},
): string {
  return `${metric.name}${options.suffix ?? ''}${matchers(options.scope ?? 'workload', options.extra ?? [])}`;
}

function byClause(by: readonly string[]): string {
  return by.length === 0 ? '' : ` by (${by.join(', ')})`;
}

/**
 * How much a counter (or histogram bucket) grew over `window`, counting series born inside the
 * window. The collector adds a rollout's figures when the rollout closes, so a workload's first
 * failure of a kind creates its series already at N; `increase()` alone needs two samples and
 * would show nothing for that first rollout. A series with no sample `window` ago counts in full.
 */
export function recentIncrease(series: string, window: string): string {
  return `(${series} unless ${series} offset ${window}) or increase(${series}[${window}])`;
}

/**
 * Events counted per dashboard interval. Drain evidence is sparse (a handful of terminations per
 * rollout), so counts read better than per-second rates.
 */
export function increaseBy(
  metric: MetricSpec,
  by: readonly string[],
  options: { scope?: Scope; extra?: readonly string[] } = {},
): string {
  return `sum${byClause(by)} (${recentIncrease(selector(metric, options), DASHBOARD_VARIABLES.rateInterval)})`;
}

export function rateBy(
  metric: MetricSpec,
  by: readonly string[],
  options: { scope?: Scope; extra?: readonly string[] } = {},
): string {
  return `sum${byClause(by)} (rate(${selector(metric, options)}[${DASHBOARD_VARIABLES.rateInterval}]))`;
}

export function quantile(
  q: number,
  metric: MetricSpec,
  by: readonly string[],
  options: { scope?: Scope } = {},
): string {
  const buckets = selector(metric, { ...options, suffix: '_bucket' });
  return `histogram_quantile(${q}, sum${byClause([...by, 'le'])} (${recentIncrease(buckets, DASHBOARD_VARIABLES.rateInterval)}))`;
}

export function gaugeBy(
  aggregation: 'max' | 'min' | 'sum',
  metric: MetricSpec,
  by: readonly string[],
  options: { scope?: Scope; extra?: readonly string[] } = {},
): string {
  return `${aggregation}${byClause(by)} (${selector(metric, options)})`;
}

/**
 * Replaces Grafana's variables with concrete values so a dashboard query can be sent straight to
 * Prometheus (tests, or a `curl` while debugging a panel). Unknown `$variables` are left alone so
 * Prometheus reports them as a parse error instead of them passing silently.
 */
export function expandGrafanaVariables(expr: string, values: Readonly<Record<string, string>>): string {
  return expr.replace(/\$\{?(__[a-z_]+|[A-Za-z_][A-Za-z0-9_]*)\}?/g, (whole, name: string) =>
    Object.hasOwn(values, name) ? (values[name] as string) : whole,
  );
}
