import { describe, expect, it } from 'vitest';
import { syntheticFacts } from '../../bench/lib/timeline-synthetic.mjs';
import { computeReport, MAX_FAILURES_LISTED } from '../../collector/index.js';
import {
  buildTimeline,
  buildTimelineRun,
  renderTimelineHtml,
  renderTimelineSvg,
  TimelineDataError,
  timelineOption,
  validateTimeline,
} from '../../timeline/index.js';

describe('timeline model', () => {
  it('places every pod and every failed probe request of the facts, with the report’s causes', () => {
    // Enough requests for more failures than the report lists: the timeline must still have all.
    const facts = syntheticFacts({ pods: 12, requests: 30_000 });
    const report = computeReport(facts);
    expect(report.probeRequests.failed).toBeGreaterThan(MAX_FAILURES_LISTED);
    const run = buildTimelineRun(facts, 'synthetic');
    expect(run.pods.map((p) => p.pod).sort()).toEqual(
      [
        ...Array.from({ length: 6 }, (_, k) => `web-old-${k}`),
        ...Array.from({ length: 6 }, (_, k) => `web-new-${k}`),
      ].sort(),
    );
    // Every failed request, the baseline's (before the first termination) and the rollout's (#15).
    expect(run.failures).toHaveLength(report.probeRequests.failed + report.baseline.failed);
    const listed = new Map(report.failures.map((f) => [f.probeId, f.cause]));
    for (const f of run.failures) if (listed.has(f.probeId)) expect(f.cause).toBe(listed.get(f.probeId));
    const byCause: Record<string, number> = {};
    for (const f of run.failures) byCause[f.cause] = (byCause[f.cause] ?? 0) + 1;
    // Causes sum to failed requests in each window (#15); dropped WebSockets are no failed request.
    const requestCauses = Object.fromEntries(
      Object.entries(report.failedByCause).map(([c, n]) => [
        c,
        n + report.baseline.failedByCause[c as keyof typeof report.failedByCause],
      ]),
    );
    expect(byCause).toEqual(Object.fromEntries(Object.entries(requestCauses).filter(([, n]) => n > 0)));
    expect(run.buckets.reduce((n, b) => n + b.requests, 0)).toBe(30_000);
    const killed = run.pods.find((p) => p.pod === 'web-old-5')!;
    expect(killed.killedAtGrace).toBe(true);
    expect(killed.marks.map((m) => m.mark)).toEqual(['sigterm', 'stopped-listening', 'killed']);
    expect(killed.phases.map((p) => p.phase)).toEqual(['ready', 'prestop', 'draining']);
    expect(killed.propagation!.endMs - killed.propagation!.startMs).toBe(1500 + 5 * 800);
    expect(run.websocketCloses).toHaveLength(18);
  });

  it('round-trips through JSON and rejects data that does not match the model', () => {
    const timeline = buildTimeline([buildTimelineRun(syntheticFacts({ requests: 500 }), 'a')]);
    expect(validateTimeline(JSON.parse(JSON.stringify(timeline)))).toEqual(timeline);
    const broken = JSON.parse(JSON.stringify(timeline));
    broken.runs[0].failures[0].cause = 'gremlins';
    expect(() => validateTimeline(broken)).toThrow(TimelineDataError);
    expect(() => validateTimeline(broken)).toThrow(/runs\.0\.failures\.0\.cause/);
    expect(() => validateTimeline({ version: 2, runs: [] })).toThrow(
      expect.objectContaining({ code: 'timeline-invalid' }),
    );
  });

  it('12 pods and 10,000 probe requests make a page under 2 MB (bench/timeline.mjs times it)', async () => {
    const timeline = buildTimeline([buildTimelineRun(syntheticFacts({ pods: 12, requests: 10_000 }), 's')]);
    const html = await renderTimelineHtml(timeline);
    const bytes = Buffer.byteLength(html);
    expect(bytes).toBeLessThan(2 * 1024 * 1024);
    // Self-contained: ECharts is inlined, nothing is loaded from elsewhere.
    const markup = html.replace(/(<script[^>]*>)[\s\S]*?<\/script>/g, '$1</script>');
    expect(markup.match(/<script/g)).toHaveLength(3);
    expect(/\b(src|href)=/i.test(markup)).toBe(false);
    expect(html).toContain("default-src 'none'");
  });

  it('the chart option draws one lane per pod and one mark per failure, per run side by side', () => {
    const a = buildTimelineRun(syntheticFacts({ requests: 2000, seed: 1 }), 'naive');
    const b = buildTimelineRun(syntheticFacts({ pods: 4, requests: 2000, seed: 2 }), 'drained');
    const { option } = timelineOption(buildTimeline([a, b]));
    const series = option.series as { id: string; data: unknown[] }[];
    const yAxes = option.yAxis as { data?: string[] }[];
    for (const [i, run] of [a, b].entries()) {
      const count = (prefix: string) =>
        series.filter((s) => s.id.startsWith(`r${i}:${prefix}`)).reduce((n, s) => n + s.data.length, 0);
      const noPod = run.failures.some((f) => f.pod === null) ? 1 : 0;
      expect(yAxes[i * 3 + 2]!.data).toHaveLength(run.pods.length + noPod);
      expect(count('fail:')).toBe(run.failures.length);
      expect(count('ws:')).toBe(run.websocketCloses.length);
    }
  });

  it('the SVG export is an SVG document with every lane named', async () => {
    const run = buildTimelineRun(syntheticFacts({ requests: 1000 }), 'svg');
    const svg = await renderTimelineSvg(buildTimeline([run]));
    expect(svg).toMatch(/^<svg[^>]+width="900"/);
    // Lanes are labelled without the workload's prefix (web-old-0 → old-0).
    for (const p of run.pods) expect(svg).toContain(`>${p.pod.slice('web-'.length)}<`);
  });
});
