#!/usr/bin/env node
// Size and render time of the timeline page of a large synthetic rollout (12 pods, 10,000 probe
// requests by default), against the targets of issue #21: page under 2 MB, drawn in under 2 s.
//   npm run build && node bench/timeline.mjs [--pods 12] [--requests 10000] [--runs 5]
// Render time = navigation start to ECharts' first 'finished' event in headless chromium (the
// page's own performance.now()), median of --runs fresh pages. It depends on the machine and its
// load; the test suite checks the size only.
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildTimeline, buildTimelineRun, renderTimelineHtml } from '../dist/timeline/index.js';
import { launchChromium, openTimeline } from './lib/timeline-browser.mjs';
import { syntheticFacts } from './lib/timeline-synthetic.mjs';

const { values: args } = parseArgs({
  options: {
    pods: { type: 'string', default: '12' },
    requests: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '5' },
  },
});
const facts = syntheticFacts({ pods: Number(args.pods), requests: Number(args.requests) });
const t0 = performance.now();
const timeline = buildTimeline([buildTimelineRun(facts, 'synthetic')]);
const buildMs = performance.now() - t0;
const html = await renderTimelineHtml(timeline);
mkdirSync('.tmp', { recursive: true });
const file = resolve('.tmp/timeline-bench.html');
writeFileSync(file, html);
const bytes = Buffer.byteLength(html);
const run = timeline.runs[0];

const browser = await launchChromium();
const times = [];
const chartTimes = [];
try {
  for (let i = 0; i < Number(args.runs); i++) {
    const { page, renderMs, chartMs, external, errors } = await openTimeline(browser, file);
    if (external.length > 0 || errors.length > 0) throw new Error(`page asked for ${external} / ${errors}`);
    times.push(renderMs);
    chartTimes.push(chartMs);
    if (i === 0) await page.screenshot({ path: '.tmp/timeline-bench.png', fullPage: true });
    await page.close();
  }
} finally {
  await browser.close();
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  `timeline: ${run.pods.length} pods, ${run.summary.requests} probe requests, ${run.failures.length} failure marks, ${run.inFlight.length} in-flight bars`,
);
console.log(`  built from facts in ${buildMs.toFixed(0)} ms`);
console.log(
  `  page ${(bytes / 1024 / 1024).toFixed(2)} MB (${bytes} bytes; target < 2 MB) ${bytes < 2 * 1024 * 1024 ? 'OK' : 'OVER'}`,
);
console.log(
  `  rendered in ${median(times)} ms median from navigation start (runs: ${times.join(', ')} ms; target < 2000 ms) ${median(times) < 2000 ? 'OK' : 'OVER'}`,
);
console.log(
  `  of which chart (data parsed, option built, drawn): ${median(chartTimes)} ms median (runs: ${chartTimes.join(', ')} ms)`,
);
console.log(
  `  load average ${(await import('node:os'))
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} (the figures depend on it)`,
);
