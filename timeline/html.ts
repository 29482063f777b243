import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { CHART_FUNCTIONS } from './chart.js';
import type { Timeline } from './model.js';

// The self-contained HTML page of a timeline: ECharts (the pinned npm package's one-file build),
// the data and the option builder inlined; a Content-Security-Policy without any source, so the
// page cannot fetch anything when opened.

const ECHARTS_MIN = createRequire(import.meta.url).resolve('echarts/dist/echarts.min.js');

let echartsSource: Promise<string> | undefined;

/** The ECharts browser bundle (about 1.1 MB), read once per process. */
function echartsScript(): Promise<string> {
  echartsSource ??= readFile(ECHARTS_MIN, 'utf8');
  return echartsSource;
}

/** JSON that may sit inside a <script> element: every `<` escaped, so no `</script` or `<!--`. */
function jsonSafe(text: string): string {
  return text.replace(/</g, '\\u003c');
}

/** Script source that may sit inside a <script> element (`<` is an operator there: escape less). */
function scriptSafe(text: string): string {
  return text.replace(/<\/script/gi, '<\\/script').replace(/<!--/g, '<\\!--');
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

// Runs in the page: draws the chart, then records on <body> what ECharts holds (lanes and marks
// per run, read back from chart.getOption()) and when the first 'finished' event came, for tests:
// renderMs from navigation start, chartMs from parsing the data (ECharts itself already loaded).
const BOOT = `
const t0 = performance.now();
const data = JSON.parse(document.getElementById('timeline-data').textContent);
const el = document.getElementById('chart');
const built = timelineOption(data);
el.style.height = built.height + 'px';
const chart = echarts.init(el, null, { renderer: 'canvas' });
let finished = false;
chart.on('finished', () => {
  if (finished) return;
  finished = true;
  const o = chart.getOption();
  const drawn = data.runs.map((_, i) => {
    const count = (prefix) => o.series
      .filter((s) => String(s.id).startsWith('r' + i + ':' + prefix))
      .reduce((n, s) => n + s.data.length, 0);
    return {
      lanes: o.yAxis[i * 3 + 2].data.length,
      failures: count('fail:'),
      websocketCloses: count('ws:'),
      inFlight: count('inflight'),
      marks: count('mark:'),
    };
  });
  document.body.dataset.drawn = JSON.stringify(drawn);
  document.body.dataset.renderMs = String(Math.round(performance.now()));
  document.body.dataset.chartMs = String(Math.round(performance.now() - t0));
  document.body.dataset.rendered = 'true';
});
chart.setOption(built.option);
window.addEventListener('resize', () => chart.resize());
window.timelineChart = chart;
`;

/** The page, as one string (UTF-8). Its size is ECharts (~1.1 MB) plus the data's JSON. */
export async function renderTimelineHtml(timeline: Timeline): Promise<string> {
  const title = `drainwatch timeline: ${timeline.runs.map((r) => `${r.label} ${r.rolloutId}`).join(' vs ')}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
body { font: 13px system-ui, sans-serif; margin: 12px; color: #222; }
h1 { font-size: 16px; margin: 0 0 4px; }
p { margin: 0 0 8px; color: #555; }
#chart { width: 100%; min-height: 300px; }
</style>
</head>
<body data-rendered="false">
<h1>${esc(title)}</h1>
<p>One lane per pod: ready, preStop, draining; the blue strip is endpoint propagation, grey bars are probe requests in flight while the pod terminated, dots are failed probe requests by cause, triangles WebSocket closes by code. Hover for details; scroll to zoom.</p>
<div id="chart"></div>
<script id="timeline-data" type="application/json">${jsonSafe(JSON.stringify(timeline))}</script>
<script>${scriptSafe(await echartsScript())}</script>
<script>${scriptSafe(CHART_FUNCTIONS.map((f) => f.toString()).join('\n'))}
${BOOT}</script>
</body>
</html>
`;
}
