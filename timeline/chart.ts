import type { Timeline, TimelineRun } from './model.js';

// The ECharts option that draws a timeline, shared by the HTML page (in the browser) and the SVG
// export (ECharts' server-side renderer in Node). The page inlines these functions' source
// (CHART_FUNCTIONS, by `toString()`), so they must stay self-contained: no imports used at run
// time, no module-level values other than the functions listed there. That is also why this is one
// file over the usual size: a function imported from another module is not a plain name at run
// time under every loader (vitest's rewrites it to `__vite_ssr_import_0__.name`), so the page would
// call a name it does not define.

/** What timelineOption returns: the option, and the height (px) it was laid out for. */
export interface TimelineChart {
  readonly option: Record<string, unknown>;
  readonly height: number;
}

type Series = Record<string, unknown>;

/** Colours and symbols of everything drawn; the lane of marks no known pod answered. */
function chartPalette() {
  return {
    NO_POD: '(no pod)',
    PHASE: {
      ready: { name: 'ready', color: '#91cc75' },
      prestop: { name: 'preStop', color: '#fac858' },
      draining: { name: 'draining', color: '#fc8452' },
    },
    MARK: {
      sigterm: { name: 'SIGTERM', symbol: 'diamond', color: '#5b2c06' },
      'stopped-listening': { name: 'stopped listening', symbol: 'rect', color: '#7f7f7f' },
      exit: { name: 'exit', symbol: 'rect', color: '#111111' },
      killed: { name: 'killed at grace', symbol: 'pin', color: '#c00000' },
    },
    CAUSE_COLOR: {
      'late-arrival': '#d62728',
      'cut-in-flight': '#ff7f0e',
      'no-close-frame': '#9467bd',
      'session-in-memory': '#1f77b4',
      'killed-at-grace': '#8c0000',
      'never-reached-pod': '#e377c2',
      'stale-keepalive': '#bcbd22',
      'no-goaway': '#17becf',
      'stuck-connection': '#8c564b',
      other: '#555555',
    } as Record<string, string>,
  } as const;
}

/** Lane names of a run: its pods, then "(no pod)" when a mark has no known pod. */
function chartLanes(r: TimelineRun): string[] {
  const lanes = r.pods.map((p) => p.pod);
  const known = new Set(lanes);
  if ([...r.failures, ...r.websocketCloses].some((m) => m.pod === null || !known.has(m.pod)))
    lanes.push(chartPalette().NO_POD);
  return lanes;
}

function chartLaneOf(lanes: readonly string[], pod: string | null): number {
  const at = pod === null ? -1 : lanes.indexOf(pod);
  return at >= 0 ? at : lanes.indexOf(chartPalette().NO_POD);
}

/** Seconds since the run's rollout started. */
function chartSeconds(ms: number, r: TimelineRun): number {
  return Math.round(ms - r.startMs) / 1000;
}

/** ECharts' renderItem API: only the calls chartBar uses. */
interface RenderApi {
  value(dim: number): number;
  coord(point: number[]): number[];
  size(range: number[]): number[];
  visual(key: 'color'): string;
}

/** A bar from x=value(0) to x=value(1) on lane value(2), in a slice [top, top+size] of the lane. */
function chartBar(top: number, size: number) {
  return (_params: unknown, api: RenderApi) => {
    const a = api.coord([api.value(0), api.value(2)]);
    const b = api.coord([api.value(1), api.value(2)]);
    const h = api.size([0, 1])[1]!;
    return {
      type: 'rect',
      shape: { x: a[0]!, y: a[1]! - h / 2 + h * top, width: Math.max(1, b[0]! - a[0]!), height: h * size },
      style: { fill: api.visual('color') },
    };
  };
}

/** Pixel layout: curves on top, lanes below, all runs with the same number of lanes. */
function chartLayout(laneCount: number) {
  const top = 64;
  const curvesHeight = 130;
  const lanesTop = top + curvesHeight + 48;
  const lanesHeight = laneCount * 30;
  return { top, curvesHeight, lanesTop, lanesHeight, height: lanesTop + lanesHeight + 48 };
}

/** Run i's title, two grids (curves, lanes), two x axes, three y axes, zoom. */
function chartRunAxes(r: TimelineRun, i: number, runs: number, laneCount: number) {
  const colW = 100 / runs;
  const left = `${colW * i + 4}%`;
  const width = `${colW - 7}%`;
  const pct = (v: number | null) => (v === null ? 'n/a' : `${(v * 100).toFixed(2)}%`);
  const l = chartLayout(laneCount);
  const maxX = Math.max(Math.ceil(chartSeconds(r.endMs, r)), 1);
  const [cg, lg] = [i * 2, i * 2 + 1];
  // Pod names differ at their end (ReplicaSet hash, pod suffix): drop the workload's prefix, keep the end.
  const short = (name: string) => {
    const s = name.startsWith(`${r.workload}-`) ? name.slice(r.workload.length + 1) : name;
    return s.length > 20 ? `…${s.slice(-19)}` : s;
  };
  return {
    title: {
      left: `${colW * i + 1}%`,
      top: 4,
      text: `${r.label === r.rolloutId ? '' : `${r.label}: `}${r.namespace}/${r.workload}`,
      subtext: `requests ok ${pct(r.summary.requestSuccess)} (${r.summary.failed} of ${r.summary.requests} failed) · sessions kept ${pct(r.summary.sessionPersistence)} · rollout ${r.rolloutId}, ${r.outcome}`,
      textStyle: { fontSize: 14 },
      subtextStyle: { fontSize: 11 },
    },
    grids: [
      { left, width, top: l.top, height: l.curvesHeight },
      { left, width, top: l.lanesTop, height: l.lanesHeight },
    ],
    xAxes: [
      { type: 'value', gridIndex: cg, min: 0, max: maxX, axisLabel: { show: false } },
      {
        type: 'value',
        gridIndex: lg,
        min: 0,
        max: maxX,
        name: 's since rollout start',
        nameLocation: 'middle',
        nameGap: 24,
      },
    ],
    yAxes: [
      { type: 'value', gridIndex: cg, min: 0, max: 100, name: 'ok %', splitNumber: 2 },
      {
        type: 'value',
        gridIndex: cg,
        min: 0,
        name: 'sessions',
        minInterval: 1,
        position: 'right',
        splitLine: { show: false },
      },
      {
        type: 'category',
        gridIndex: lg,
        data: chartLanes(r),
        inverse: true,
        axisLabel: { fontSize: 10, formatter: short },
        splitLine: { show: true, lineStyle: { color: '#eeeeee' } },
        max: laneCount - 1,
      },
    ],
    zoom: { type: 'inside', xAxisIndex: [cg, lg], filterMode: 'none' },
  };
}

/** Run i's request-success and active-sessions curves (x axis 2i, y axes 3i and 3i+1). */
function chartRunCurves(r: TimelineRun, i: number): Series[] {
  const half = r.bucketMs / 2000;
  const x = (atMs: number) => chartSeconds(atMs, r) + half;
  const on = { type: 'line', xAxisIndex: i * 2, showSymbol: false };
  return [
    {
      ...on,
      id: `r${i}:success`,
      name: 'request success',
      yAxisIndex: i * 3,
      // Buckets without requests are gaps, not 0 %: the line joins across them.
      connectNulls: true,
      color: '#3ba272',
      data: r.buckets.map((b) => [x(b.atMs), b.requests ? (100 * b.ok) / b.requests : null]),
    },
    {
      ...on,
      id: `r${i}:sessions`,
      name: 'active sessions',
      yAxisIndex: i * 3 + 1,
      color: '#5470c6',
      lineStyle: { type: 'dashed' },
      data: r.buckets.map((b) => [x(b.atMs), b.sessions]),
    },
  ];
}

/** Run i's spans on its lanes: phases, endpoint propagation, in-flight requests. */
function chartRunSpans(r: TimelineRun, i: number): Series[] {
  const { PHASE } = chartPalette();
  const lanes = chartLanes(r);
  const s = (ms: number) => chartSeconds(ms, r);
  const on = {
    type: 'custom',
    xAxisIndex: i * 2 + 1,
    yAxisIndex: i * 3 + 2,
    clip: true,
    encode: { x: [0, 1], y: 2 },
  };
  const out: Series[] = (['ready', 'prestop', 'draining'] as const).map((key) => ({
    ...on,
    id: `r${i}:phase:${key}`,
    name: PHASE[key].name,
    color: PHASE[key].color,
    renderItem: chartBar(0.2, 0.5),
    data: r.pods.flatMap((p) =>
      p.phases
        .filter((ph) => ph.phase === key)
        .map((ph) => [s(ph.startMs), s(ph.endMs), chartLaneOf(lanes, p.pod)]),
    ),
  }));
  out.push({
    ...on,
    id: `r${i}:propagation`,
    name: 'endpoint propagation',
    color: 'rgba(84,112,198,0.55)',
    renderItem: chartBar(0.05, 0.15),
    data: r.pods.flatMap((p) =>
      p.propagation ? [[s(p.propagation.startMs), s(p.propagation.endMs), chartLaneOf(lanes, p.pod)]] : [],
    ),
  });
  out.push({
    ...on,
    id: `r${i}:inflight`,
    name: 'in-flight requests',
    color: 'rgba(64,64,64,0.25)',
    renderItem: chartBar(0.72, 0.2),
    data: r.inFlight.map((q, k) => [s(q.startMs), s(q.endMs), chartLaneOf(lanes, q.pod), k]),
  });
  return out;
}

/** Run i's instants on its lanes: lifecycle marks, failures by cause, WebSocket closes by code. */
function chartRunMarks(r: TimelineRun, i: number): Series[] {
  const { MARK, CAUSE_COLOR } = chartPalette();
  const lanes = chartLanes(r);
  const s = (ms: number) => chartSeconds(ms, r);
  const on = { type: 'scatter', xAxisIndex: i * 2 + 1, yAxisIndex: i * 3 + 2, z: 5 };
  const out: Series[] = [];
  for (const key of Object.keys(MARK) as (keyof typeof MARK)[]) {
    const data = r.pods.flatMap((p) =>
      p.marks.filter((m) => m.mark === key).map((m) => [s(m.atMs), chartLaneOf(lanes, p.pod)]),
    );
    if (data.length === 0) continue;
    const { name, symbol, color } = MARK[key];
    out.push({ ...on, id: `r${i}:mark:${key}`, name, symbol, symbolSize: 12, color, z: 4, data });
  }
  for (const cause of [...new Set(r.failures.map((f) => f.cause))].sort()) {
    out.push({
      ...on,
      id: `r${i}:fail:${cause}`,
      name: `failed: ${cause}`,
      symbolSize: 7,
      color: CAUSE_COLOR[cause] ?? '#555555',
      data: r.failures.flatMap((f, k) =>
        f.cause === cause ? [[s(f.atMs), chartLaneOf(lanes, f.pod), k]] : [],
      ),
    });
  }
  const codeOf = (w: TimelineRun['websocketCloses'][number]) => String(w.code ?? 'none');
  for (const code of [...new Set(r.websocketCloses.map(codeOf))].sort()) {
    out.push({
      ...on,
      id: `r${i}:ws:${code}`,
      name: `WebSocket close ${code}`,
      symbol: 'triangle',
      symbolSize: 9,
      symbolOffset: [0, -9],
      color: code === '1006' || code === 'none' ? '#9467bd' : '#17becf',
      data: r.websocketCloses.flatMap((w, k) =>
        codeOf(w) === code ? [[s(w.atMs), chartLaneOf(lanes, w.pod), k]] : [],
      ),
    });
  }
  return out;
}

/** The hover text of any item, from its series id (`r<run>:<kind>[:<key>]`) and value. */
function chartTooltip(
  timeline: Timeline,
  p: { seriesId: string; value: number[]; seriesName: string },
): string {
  const { NO_POD } = chartPalette();
  const [run, kind, key] = p.seriesId.split(':');
  const r = timeline.runs[Number(String(run).slice(1))]!;
  const v = p.value;
  const esc = (s: unknown) =>
    String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  const at = (s: number) => `${new Date(r.startMs + s * 1000).toISOString()} (+${s.toFixed(3)} s)`;
  const table = (title: string, o: Record<string, unknown>) =>
    `<b>${esc(title)} (${esc(r.label)})</b><table>${Object.entries(o)
      .map(([k, val]) => `<tr><td>${esc(k)}</td><td><b>${esc(val)}</b></td></tr>`)
      .join('')}</table>`;
  const lanes = chartLanes(r);
  if (kind === 'fail') {
    const f = r.failures[v[2]!]!;
    return table('failed probe request', {
      probe: f.probeId,
      route: f.route,
      status: f.status ?? 'none',
      error: f.error,
      pod: f.pod ?? NO_POD,
      phase: f.phase,
      cause: f.cause,
      session: f.sessionId,
      at: at(v[0]!),
    });
  }
  if (kind === 'ws') {
    const w = r.websocketCloses[v[2]!]!;
    return table(`WebSocket close ${key}`, { pod: w.pod ?? NO_POD, session: w.sessionId, at: at(v[0]!) });
  }
  if (kind === 'inflight') {
    const q = r.inFlight[v[3]!]!;
    const durationMs = Math.round((v[1]! - v[0]!) * 1000);
    return table('probe request in flight', {
      probe: q.probeId,
      pod: q.pod,
      ok: q.ok,
      from: at(v[0]!),
      durationMs,
    });
  }
  if (kind === 'phase' || kind === 'propagation') {
    const ms = Math.round((v[1]! - v[0]!) * 1000);
    return table(p.seriesName, { pod: lanes[v[2]!], from: at(v[0]!), to: at(v[1]!), ms });
  }
  if (kind === 'mark') return table(p.seriesName, { pod: lanes[v[1]!], at: at(v[0]!) });
  return table(p.seriesName, { at: at(v[0]!), value: v[1] === null ? 'n/a' : Number(v[1]).toFixed(1) });
}

/**
 * Lays out one column per run: the request-success and active-sessions curves on top, one lane per
 * pod below (phases, endpoint propagation, in-flight probe requests, lifecycle marks, failures by
 * cause, WebSocket closes by code). Times on the x axes are seconds since each rollout started.
 * Series ids are `r<run>:<kind>[:<key>]`, so a reader of the option can count what was drawn.
 */
export function timelineOption(timeline: Timeline): TimelineChart {
  const runs = timeline.runs;
  const laneCount = Math.max(...runs.map((r) => chartLanes(r).length), 1);
  const axes = runs.map((r, i) => chartRunAxes(r, i, runs.length, laneCount));
  const series = runs.flatMap((r, i) => [
    ...chartRunCurves(r, i),
    ...chartRunSpans(r, i),
    ...chartRunMarks(r, i),
  ]);
  const names = [...new Set(series.map((s) => s.name as string))];
  const option = {
    animation: false,
    backgroundColor: '#ffffff',
    title: axes.map((a) => a.title),
    legend: { bottom: 0, type: 'plain', data: names },
    tooltip: {
      trigger: 'item',
      confine: true,
      formatter: (p: Parameters<typeof chartTooltip>[1]) => chartTooltip(timeline, p),
    },
    grid: axes.flatMap((a) => a.grids),
    xAxis: axes.flatMap((a) => a.xAxes),
    yAxis: axes.flatMap((a) => a.yAxes),
    dataZoom: axes.map((a) => a.zoom),
    series,
  };
  // The legend wraps below the lanes: about 24 px a row of ~8 entries.
  return { option, height: chartLayout(laneCount).height + 24 * Math.ceil(names.length / 8) };
}

/** Every function the page inlines, timelineOption and what it calls. */
export const CHART_FUNCTIONS: readonly ((...args: never[]) => unknown)[] = [
  chartPalette,
  chartLanes,
  chartLaneOf,
  chartSeconds,
  chartBar,
  chartLayout,
  chartRunAxes,
  chartRunCurves,
  chartRunSpans,
  chartRunMarks,
  chartTooltip,
  timelineOption,
];
