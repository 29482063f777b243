import { timelineOption } from './chart.js';
import type { Timeline } from './model.js';

// The SVG export for CI summaries: the page's chart, drawn by ECharts' server-side SVG renderer
// in Node (no browser). Tooltips and zoom are lost; everything drawn stays.

/** Width (px) of one run's column in the SVG. */
export const SVG_COLUMN_WIDTH = 900;

/** The timeline as an SVG document string. ECharts is loaded on first use (it takes ~0.3 s). */
export async function renderTimelineSvg(timeline: Timeline): Promise<string> {
  const echarts = await import('echarts');
  const { option, height } = timelineOption(timeline);
  const width = SVG_COLUMN_WIDTH * timeline.runs.length;
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption(option);
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}
