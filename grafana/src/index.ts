export {
  ALERT_RULE_FILES,
  DEFAULT_ALERTS_DIR,
  RUNBOOK_PAGE,
  renderAlertRuleFiles,
  runbookAnchor,
  runbookUrl,
  writeAlertRuleFiles,
} from './alerts.js';
export type { DashboardSpec, PanelSpec, RowSpec, TargetSpec } from './dashboard-spec.js';
export { buildDashboards, DASHBOARD_SPECS, renderDashboardFiles } from './dashboards.js';
export { DEFAULT_DASHBOARD_DIR, writeDashboardFiles } from './generate.js';
export { docsBaseFromEnv } from './generate-alerts.js';
export type { Scope } from './promql.js';
export {
  DASHBOARD_VARIABLES,
  expandGrafanaVariables,
  gaugeBy,
  increaseBy,
  quantile,
  rateBy,
  recentIncrease,
  selector,
} from './promql.js';
export type { DashboardQuery } from './queries.js';
export { listDashboardQueries } from './queries.js';
