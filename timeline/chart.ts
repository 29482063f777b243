import type { Timeline } from './model.js';

// The ECharts option that draws a timeline, shared by the HTML page (in the browser) and the SVG
// export (ECharts' server-side renderer in Node). The page inlines this function's source
// (`timelineOption.toString()`), so it must stay self-contained: no imports used at run time, no
// module-level helpers, every helper nested inside.

/** What timelineOption returns: the option, and the height (px) it was laid out for. */
export interface TimelineChart {
  readonly option: Record<string, unknown>;
  readonly height: number;
}

/**
 * Lays out one column per run: the request-success and active-sessions curves on top, one lane per
 * pod below (phases, endpoint propagation, in-flight probe requests, lifecycle marks, failures by
 * cause, WebSocket closes by code). Times on the x axes are seconds since each rollout started.
 * Series ids are `r<run>:<kind>[:<key>]`, so a reader of the option can count what was drawn.
 */
export function timelineOption(timeline: Timeline): TimelineChart {
  const PHASE = {
    ready: { name: 'ready', color: '#91cc75' },
    prestop: { name: 'preStop', color: '#fac858' },
    draining: { name: 'draining', color: '#fc8452' },
  } as const;
  const MARK = {
    sigterm: { name: 'SIGTERM', symbol: 'diamond', color: '#5b2c06' },
    'stopped-listening': { name: 'stopped listening', symbol: 'rect', color: '#7f7f7f' },
    exit: { name: 'exit', symbol: 'rect', color: '#111111' },
    killed: { name: 'killed at grace', symbol: 'pin', color: '#c00000' },
  } as const;
  const CAUSE_COLOR: Record<string, string> = {
    'late-arrival': '#d62728',
    'cut-in-flight': '#ff7f0e',
    'no-close-frame': '#9467bd',
    'session-in-memory': '#1f77b4',
    'killed-at-grace': '#8c0000',
    'never-reached-pod': '#e377c2',
    other: '#555555',
  };
  const NO_POD = '(no pod)';
  const runs = timeline.runs;
  const n = runs.length;
  const laneCount = Math.max(...runs.map((r) => r.pods.length + (hasNoPod(r) ? 1 : 0)), 1);
  const TOP = 64;
  const CURVES_H = 130;
  const GAP = 48;
  const LANE_H = 30;
  const lanesTop = TOP + CURVES_H + GAP;
  const lanesH = laneCount * LANE_H;
  const height = lanesTop + lanesH + 48;
  const pct = (v: number | null) => (v === null ? 'n/a' : `${(v * 100).toFixed(2)}%`);
  const sec = (ms: number, r: (typeof runs)[number]) => Math.round(ms - r.startMs) / 1000;
  const esc = (s: unknown) =>
    String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

  function hasNoPod(r: (typeof runs)[number]): boolean {
    return (
      r.failures.some((f) => f.pod === null || !r.pods.some((p) => p.pod === f.pod)) ||
      r.websocketCloses.some((w) => w.pod === null || !r.pods.some((p) => p.pod === w.pod))
    );
  }

  // A horizontal bar from x=value(0) to x=value(1) on lane value(2), in a slice of the lane height.
  // `api` is ECharts' renderItem API (only the three calls below are used).
  interface RenderApi {
    value(dim: number): number;
    coord(point: number[]): number[];
    size(range: number[]): number[];
    visual(key: 'color'): string;
  }
  function bar(top: number, size: number) {
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

  const grids: unknown[] = [];
  const xAxes: unknown[] = [];
  const yAxes: unknown[] = [];
  const series: Record<string, unknown>[] = [];
  const titles: unknown[] = [];
  const zooms: unknown[] = [];
  const colW = 100 / n;
  runs.forEach((r, i) => {
    const left = `${colW * i + 4}%`;
    const width = `${colW - 7}%`;
    const lanes = r.pods.map((p) => p.pod);
    if (hasNoPod(r)) lanes.push(NO_POD);
    const lane = (pod: string | null) => {
      const at = pod === null ? -1 : lanes.indexOf(pod);
      return at >= 0 ? at : lanes.indexOf(NO_POD);
    };
    const maxX = Math.max(Math.ceil(sec(r.endMs, r)), 1);
    const cg = i * 2;
    const lg = cg + 1;
    titles.push({
      left: `${colW * i + 1}%`,
      top: 4,
      text: `${r.label === r.rolloutId ? '' : `${r.label}: `}${r.namespace}/${r.workload}`,
      subtext: `requests ok ${pct(r.summary.requestSuccess)} (${r.summary.failed} of ${r.summary.requests} failed) · sessions kept ${pct(r.summary.sessionPersistence)} · rollout ${r.rolloutId}, ${r.outcome}`,
      textStyle: { fontSize: 14 },
      subtextStyle: { fontSize: 11 },
    });
    grids.push({ left, width, top: TOP, height: CURVES_H });
    grids.push({ left, width, top: lanesTop, height: laneCount * LANE_H });
    xAxes.push({ type: 'value', gridIndex: cg, min: 0, max: maxX, axisLabel: { show: false } });
    xAxes.push({
      type: 'value',
      gridIndex: lg,
      min: 0,
      max: maxX,
      name: 's since rollout start',
      nameLocation: 'middle',
      nameGap: 24,
    });
    yAxes.push({ type: 'value', gridIndex: cg, min: 0, max: 100, name: 'ok %', splitNumber: 2 });
    yAxes.push({
      type: 'value',
      gridIndex: cg,
      min: 0,
      name: 'sessions',
      minInterval: 1,
      position: 'right',
      splitLine: { show: false },
    });
    yAxes.push({
      type: 'category',
      gridIndex: lg,
      data: lanes,
      inverse: true,
      // Pod names differ at their end (ReplicaSet hash, pod suffix): drop the workload's prefix, keep the end.
      axisLabel: {
        fontSize: 10,
        formatter: (name: string) => {
          const short = name.startsWith(`${r.workload}-`) ? name.slice(r.workload.length + 1) : name;
          return short.length > 20 ? `…${short.slice(-19)}` : short;
        },
      },
      splitLine: { show: true, lineStyle: { color: '#eeeeee' } },
      max: laneCount - 1,
    });
    const x = [i * 2, i * 2 + 1];
    const y = { success: i * 3, sessions: i * 3 + 1, lanes: i * 3 + 2 };
    zooms.push({ type: 'inside', xAxisIndex: x, filterMode: 'none' });
    const half = r.bucketMs / 2000;
    series.push({
      id: `r${i}:success`,
      name: 'request success',
      type: 'line',
      xAxisIndex: x[0],
      yAxisIndex: y.success,
      showSymbol: false,
      // Buckets without requests are gaps, not 0 %: the line joins across them.
      connectNulls: true,
      color: '#3ba272',
      data: r.buckets.map((b) => [sec(b.atMs, r) + half, b.requests ? (100 * b.ok) / b.requests : null]),
    });
    series.push({
      id: `r${i}:sessions`,
      name: 'active sessions',
      type: 'line',
      xAxisIndex: x[0],
      yAxisIndex: y.sessions,
      showSymbol: false,
      color: '#5470c6',
      lineStyle: { type: 'dashed' },
      data: r.buckets.map((b) => [sec(b.atMs, r) + half, b.sessions]),
    });
    const onLanes = { xAxisIndex: x[1], yAxisIndex: y.lanes };
    for (const key of ['ready', 'prestop', 'draining'] as const) {
      series.push({
        id: `r${i}:phase:${key}`,
        name: PHASE[key].name,
        type: 'custom',
        ...onLanes,
        clip: true,
        color: PHASE[key].color,
        renderItem: bar(0.2, 0.5),
        encode: { x: [0, 1], y: 2 },
        data: r.pods.flatMap((p) =>
          p.phases
            .filter((ph) => ph.phase === key)
            .map((ph) => [sec(ph.startMs, r), sec(ph.endMs, r), lane(p.pod)]),
        ),
      });
    }
    series.push({
      id: `r${i}:propagation`,
      name: 'endpoint propagation',
      type: 'custom',
      ...onLanes,
      clip: true,
      color: 'rgba(84,112,198,0.55)',
      renderItem: bar(0.05, 0.15),
      encode: { x: [0, 1], y: 2 },
      data: r.pods.flatMap((p) =>
        p.propagation ? [[sec(p.propagation.startMs, r), sec(p.propagation.endMs, r), lane(p.pod)]] : [],
      ),
    });
    series.push({
      id: `r${i}:inflight`,
      name: 'in-flight requests',
      type: 'custom',
      ...onLanes,
      clip: true,
      color: 'rgba(64,64,64,0.25)',
      renderItem: bar(0.72, 0.2),
      encode: { x: [0, 1], y: 2 },
      data: r.inFlight.map((q, k) => [sec(q.startMs, r), sec(q.endMs, r), lane(q.pod), k]),
    });
    for (const key of Object.keys(MARK) as (keyof typeof MARK)[]) {
      const data = r.pods.flatMap((p) =>
        p.marks.filter((m) => m.mark === key).map((m) => [sec(m.atMs, r), lane(p.pod)]),
      );
      if (data.length === 0) continue;
      series.push({
        id: `r${i}:mark:${key}`,
        name: MARK[key].name,
        type: 'scatter',
        ...onLanes,
        symbol: MARK[key].symbol,
        symbolSize: 12,
        color: MARK[key].color,
        z: 4,
        data,
      });
    }
    const causes = [...new Set(r.failures.map((f) => f.cause))].sort();
    for (const cause of causes) {
      series.push({
        id: `r${i}:fail:${cause}`,
        name: `failed: ${cause}`,
        type: 'scatter',
        ...onLanes,
        symbolSize: 7,
        color: CAUSE_COLOR[cause] ?? '#555555',
        z: 5,
        data: r.failures.flatMap((f, k) => (f.cause === cause ? [[sec(f.atMs, r), lane(f.pod), k]] : [])),
      });
    }
    const codes = [...new Set(r.websocketCloses.map((w) => String(w.code ?? 'none')))].sort();
    for (const code of codes) {
      series.push({
        id: `r${i}:ws:${code}`,
        name: `WebSocket close ${code}`,
        type: 'scatter',
        ...onLanes,
        symbol: 'triangle',
        symbolSize: 9,
        symbolOffset: [0, -9],
        color: code === '1006' || code === 'none' ? '#9467bd' : '#17becf',
        z: 5,
        data: r.websocketCloses.flatMap((w, k) =>
          String(w.code ?? 'none') === code ? [[sec(w.atMs, r), lane(w.pod), k]] : [],
        ),
      });
    }
  });

  function tooltip(p: { seriesId: string; value: number[]; seriesName: string }): string {
    const [run, kind, key] = p.seriesId.split(':');
    const r = runs[Number(String(run).slice(1))]!;
    const v = p.value;
    const at = (s: number) => `${new Date(r.startMs + s * 1000).toISOString()} (+${s.toFixed(3)} s)`;
    const rows = (o: Record<string, unknown>) =>
      Object.entries(o)
        .map(([k, val]) => `<tr><td>${esc(k)}</td><td><b>${esc(val)}</b></td></tr>`)
        .join('');
    const table = (title: string, o: Record<string, unknown>) =>
      `<b>${esc(title)}</b><table>${rows(o)}</table>`;
    if (kind === 'fail') {
      const f = r.failures[v[2]!]!;
      return table(`failed probe request (${r.label})`, {
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
      return table(`WebSocket close ${key} (${r.label})`, {
        pod: w.pod ?? NO_POD,
        session: w.sessionId,
        at: at(v[0]!),
      });
    }
    if (kind === 'inflight') {
      const q = r.inFlight[v[3]!]!;
      return table(`probe request in flight (${r.label})`, {
        probe: q.probeId,
        pod: q.pod,
        ok: q.ok,
        from: at(v[0]!),
        durationMs: Math.round((v[1]! - v[0]!) * 1000),
      });
    }
    if (kind === 'phase' || kind === 'propagation') {
      const lanes = r.pods.map((x) => x.pod);
      return table(`${p.seriesName} (${r.label})`, {
        pod: lanes[v[2]!] ?? NO_POD,
        from: at(v[0]!),
        to: at(v[1]!),
        ms: Math.round((v[1]! - v[0]!) * 1000),
      });
    }
    if (kind === 'mark')
      return table(`${p.seriesName} (${r.label})`, { pod: r.pods.map((x) => x.pod)[v[1]!], at: at(v[0]!) });
    return table(`${p.seriesName} (${r.label})`, {
      at: at(v[0]!),
      value: v[1] === null ? 'n/a' : Number(v[1]).toFixed(1),
    });
  }

  const option = {
    animation: false,
    backgroundColor: '#ffffff',
    title: titles,
    legend: { bottom: 0, type: 'plain', data: [...new Set(series.map((s) => s.name as string))] },
    tooltip: { trigger: 'item', confine: true, formatter: tooltip },
    grid: grids,
    xAxis: xAxes,
    yAxis: yAxes,
    dataZoom: zooms,
    series,
  };
  // The legend wraps below the lanes: about 24 px a row of ~6 entries.
  return { option, height: height + 24 * Math.ceil(new Set(series.map((s) => s.name)).size / 8) };
}
