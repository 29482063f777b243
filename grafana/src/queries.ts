// Walks dashboard JSON (as Grafana loads it) and lists every PromQL expression in it: panel
// targets, panels nested in collapsed rows, and annotation queries. The end-to-end test sends
// each one to a real Prometheus.

export interface DashboardQuery {
  readonly dashboard: string;
  /** Panel title, or `annotation:<name>`. */
  readonly panel: string;
  readonly refId: string;
  readonly expr: string;
}

interface PanelJson {
  readonly title?: string;
  readonly targets?: readonly { readonly refId?: string; readonly expr?: string }[];
  readonly panels?: readonly PanelJson[];
}

interface DashboardJson {
  readonly uid?: string;
  readonly panels?: readonly PanelJson[];
  readonly annotations?: { readonly list?: readonly { readonly name?: string; readonly expr?: string }[] };
}

function fromPanels(dashboard: string, panels: readonly PanelJson[]): DashboardQuery[] {
  return panels.flatMap((p) => [
    ...(p.targets ?? []).flatMap((t, i) =>
      t.expr ? [{ dashboard, panel: p.title ?? '', refId: t.refId ?? String(i), expr: t.expr }] : [],
    ),
    ...fromPanels(dashboard, p.panels ?? []),
  ]);
}

export function listDashboardQueries(dashboards: Readonly<Record<string, object>>): DashboardQuery[] {
  return Object.entries(dashboards).flatMap(([name, json]) => {
    const d = json as DashboardJson;
    const dashboard = d.uid ?? name;
    const annotations = (d.annotations?.list ?? []).flatMap((a) =>
      a.expr ? [{ dashboard, panel: `annotation:${a.name ?? ''}`, refId: 'annotation', expr: a.expr }] : [],
    );
    return [...fromPanels(dashboard, d.panels ?? []), ...annotations];
  });
}
