import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  AnnotationQueryBuilder,
  DashboardBuilder,
  DashboardCursorSync,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { D, type DashboardSpec, type PanelSpec, WL } from './dashboard-spec.js';
import { drainQuality } from './drain-quality-dashboard.js';
import { health } from './health-dashboard.js';
import { gaugeBy } from './promql.js';

// The dashboards' specs (drain-quality-dashboard.ts, health-dashboard.ts) turned into Grafana JSON
// by the foundation SDK.

/** Both dashboards, in the order they are written. */
export const DASHBOARD_SPECS: readonly DashboardSpec[] = [drainQuality, health];

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's own variable syntax, resolved by Grafana
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;

function rolloutAnnotation(): AnnotationQueryBuilder {
  // A region per rollout: Grafana joins consecutive samples of a non-empty result into one span.
  return (
    new AnnotationQueryBuilder()
      .name('Rollouts')
      .datasource(DATASOURCE)
      .enable(true)
      .iconColor('rgba(0, 211, 255, 1)')
      // max: during a gauge-lease hand-over two collector replicas may both export it (docs/scaling.md).
      .expr(`${gaugeBy('max', D.rolloutInProgress, WL)} == 1`)
      .step('15s')
      .titleFormat('Rollout {{namespace}}/{{workload}}')
      .tagKeys('namespace,workload')
  );
}

function thresholds(spec: NonNullable<PanelSpec['thresholds']>): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder()
    .mode(ThresholdsMode.Absolute)
    .steps([{ value: null, color: spec.base }, ...spec.steps.map(([value, color]) => ({ value, color }))]);
}

function targets(spec: PanelSpec, instant: boolean): DataqueryBuilder[] {
  return spec.targets.map((t, i) => {
    const q = new DataqueryBuilder()
      .refId(String.fromCharCode(65 + i))
      .datasource(DATASOURCE)
      .expr(t.expr)
      .legendFormat(t.legend);
    return instant ? q.instant() : q.range();
  });
}

function panel(spec: PanelSpec, id: number): TimeseriesPanelBuilder | StatPanelBuilder {
  if (spec.kind === 'stat') {
    const p = new StatPanelBuilder()
      .id(id)
      .title(spec.title)
      .description(spec.description)
      .datasource(DATASOURCE)
      .unit(spec.unit)
      .height(6)
      .span(spec.width ?? 12)
      .graphMode(common.BigValueGraphMode.None)
      .colorMode(common.BigValueColorMode.Background)
      .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
      .targets(targets(spec, true));
    return spec.thresholds ? p.thresholds(thresholds(spec.thresholds)) : p;
  }
  let p = new TimeseriesPanelBuilder()
    .id(id)
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .height(8)
    .span(spec.width ?? 12)
    .fillOpacity(spec.stacked ? 60 : 10)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom),
    )
    .tooltip(
      new common.VizTooltipOptionsBuilder()
        .mode(common.TooltipDisplayMode.Multi)
        .sort(common.SortOrder.Descending),
    )
    .targets(targets(spec, false));
  if (spec.range) p = p.min(spec.range[0]).max(spec.range[1]);
  if (spec.stacked) p = p.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  if (spec.thresholds) p = p.thresholds(thresholds(spec.thresholds));
  return p;
}

function variables(): (DatasourceVariableBuilder | QueryVariableBuilder)[] {
  const namespace = new QueryVariableBuilder('namespace')
    .label('Namespace')
    .datasource(DATASOURCE)
    .query(`label_values(${D.rolloutInProgress.name}, namespace)`)
    .definition(`label_values(${D.rolloutInProgress.name}, namespace)`)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ text: 'All', value: '$__all' });
  const workloadQuery = `label_values(${D.rolloutInProgress.name}{namespace=~"$namespace"}, workload)`;
  const workload = new QueryVariableBuilder('workload')
    .label('Workload')
    .datasource(DATASOURCE)
    .query(workloadQuery)
    .definition(workloadQuery)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ text: 'All', value: '$__all' });
  return [
    new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'),
    namespace,
    workload,
  ];
}

function build(spec: DashboardSpec): object {
  const d = new DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags(['drainwatch', 'generated'])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh('30s')
    .time({ from: 'now-3h', to: 'now' })
    .timezone('browser')
    .variables(variables());
  if (spec.rolloutAnnotations) d.annotation(rolloutAnnotation());
  let id = 1;
  for (const row of spec.rows) {
    d.withRow(new RowBuilder(row.title).id(id++));
    for (const p of row.panels) d.withPanel(panel(p, id++));
  }
  return d.build();
}

/** Every dashboard as Grafana JSON, keyed by file name without `.json` (also its uid). */
export function buildDashboards(): Record<string, object> {
  return Object.fromEntries(DASHBOARD_SPECS.map((spec) => [spec.uid, build(spec)]));
}

/** The exact bytes committed under grafana/dashboards/, keyed by file name. */
export function renderDashboardFiles(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(buildDashboards()).map(([name, json]) => [
      `${name}.json`,
      `${JSON.stringify(json, null, 2)}\n`,
    ]),
  );
}
