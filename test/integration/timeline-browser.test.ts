import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, openTimeline, pixelOf } from '../../bench/lib/timeline-browser.mjs';
import { type Collector, createCollector } from '../../collector/index.js';
import {
  storeTimelineSource,
  type Timeline,
  TimelineNotFoundError,
  type TimelineRun,
  validateTimeline,
  writeTimelineFiles,
  writeVerifyTimeline,
} from '../../timeline/index.js';
import { type CollectorEnv, startCollectorEnv } from '../helpers/collector-harness.js';
import { CLI_BIN } from '../helpers/collector-process.js';
import { publishAll, scriptedRollout } from '../helpers/collector-scenario.js';

// The timeline of the scripted rollout (test/helpers/collector-scenario.ts), stored by a real
// collector, drawn by chromium from a file on disk. Screenshots are kept in .tmp/ (CI keeps it).

const TMP = resolve('.tmp/timeline-test');
const FAILED = ['p-cut', 'p-late', 'p-never', 'p-other', 'p-sess'];

/** What the page must have drawn for a run: every lane, every mark of the data it was given. */
function expected(run: TimelineRun) {
  const named = new Set(run.pods.map((p) => p.pod));
  const orphan = [...run.failures, ...run.websocketCloses].some((m) => m.pod === null || !named.has(m.pod));
  return {
    lanes: run.pods.length + (orphan ? 1 : 0),
    failures: run.failures.length,
    websocketCloses: run.websocketCloses.length,
    inFlight: run.inFlight.length,
    marks: run.pods.reduce((n, p) => n + p.marks.length, 0),
  };
}

describe('timeline: a scripted rollout drawn in a real browser', () => {
  let env: CollectorEnv;
  let collector: Collector;
  let base: string;
  let browser: Browser;
  const first = scriptedRollout();
  const second = scriptedRollout(Date.parse('2026-11-21T13:00:00.000Z'));

  beforeAll(async () => {
    mkdirSync(TMP, { recursive: true });
    env = await startCollectorEnv();
    collector = createCollector(env.config(), { nats: env.nc, redis: env.redis });
    const { http } = await collector.start();
    base = `http://127.0.0.1:${http.port}`;
    await publishAll(env.nc, first.events, env.ns.subjectRoot);
    await publishAll(env.nc, second.events, env.ns.subjectRoot);
    await collector.drain(30_000);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await collector?.stop();
    await env?.stop();
  });

  it('the API serves page and data; chromium draws every lane and failure mark, fetches nothing, shows a mark on hover', async () => {
    const json = await fetch(`${base}/api/rollouts/${first.rolloutId}/timeline.json`);
    expect(json.status).toBe(200);
    const timeline = validateTimeline(await json.json());
    const run = timeline.runs[0]!;
    expect(run.failures.map((f) => f.probeId).sort()).toEqual(FAILED);
    expect(run.pods.filter((p) => p.terminated).map((p) => p.pod)).toEqual(['quote-a', 'quote-b', 'quote-e']);
    const killed = run.pods.find((p) => p.pod === 'quote-b')!;
    expect(killed.killedAtGrace).toBe(true);
    expect(killed.marks.map((m) => m.mark)).toContain('killed');

    const page = await fetch(`${base}/api/rollouts/${first.rolloutId}/timeline.html`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const file = resolve(TMP, 'scripted.html');
    writeFileSync(file, await page.text());
    const shown = await openTimeline(browser, file, { width: 1400, height: 800 });
    try {
      expect(shown.external).toEqual([]);
      expect(shown.errors).toEqual([]);
      expect(shown.drawn).toEqual([expected(run)]);
      expect(shown.drawn[0]!.lanes).toBeGreaterThanOrEqual(4);

      // Hover the killed-at-grace failure: the tooltip names probe, route, pod, phase and cause.
      const cut = run.failures.find((f) => f.probeId === 'p-cut')!;
      const at = await pixelOf(shown.page, 'r0:fail:killed-at-grace', [
        (cut.atMs - run.startMs) / 1000,
        cut.pod,
      ]);
      await shown.page.mouse.move(at.x, at.y);
      const tip = shown.page.locator('#chart div', { hasText: 'failed probe request' }).last();
      await tip.waitFor({ timeout: 10_000 });
      const text = await tip.innerText();
      for (const want of ['p-cut', cut.route, 'quote-b', 'draining', 'killed-at-grace'])
        expect(text).toContain(want);
      await shown.page.screenshot({ path: resolve(TMP, 'scripted.png'), fullPage: true });
    } finally {
      await shown.page.close();
    }

    const missing = await fetch(`${base}/api/rollouts/ro-nope/timeline.html`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('rollout-not-found');
  });

  it('`drainwatch report --html --timeline-json --timeline-svg` writes all three from Redis alone', () => {
    const out = (name: string) => resolve(TMP, `report.${name}`);
    const res = spawnSync(
      process.execPath,
      [
        CLI_BIN,
        'report',
        first.rolloutId,
        '--html',
        out('html'),
        '--timeline-json',
        out('json'),
        '--timeline-svg',
        out('svg'),
      ],
      {
        encoding: 'utf8',
        timeout: 60_000,
        env: {
          ...process.env,
          REDIS_URL: env.servers.redis.url,
          DRAINWATCH_REDIS_PREFIX: env.ns.redisPrefix,
        },
      },
    );
    expect(res.stderr).toContain('timeline written to');
    expect(res.status).toBe(0);
    const timeline: Timeline = validateTimeline(JSON.parse(readFileSync(out('json'), 'utf8')));
    expect(timeline.runs[0]!.failures.map((f) => f.probeId).sort()).toEqual(FAILED);
    const svg = readFileSync(out('svg'), 'utf8');
    expect(svg).toMatch(/^<svg[\s\S]*<\/svg>$/);
    // The title names the workload; lanes are labelled without its prefix (quote-b → b).
    expect(svg).toContain('>shop/quote<');
    for (const lane of ['a', 'b', 'e', '(no pod)']) expect(svg).toContain(`>${lane}<`);
    expect(readFileSync(out('html'), 'utf8')).toContain(`"rolloutId":"${first.rolloutId}"`);
  });

  it('two rollouts are drawn side by side, each with all its lanes and marks', async () => {
    const file = resolve(TMP, 'side-by-side.html');
    const lines: string[] = [];
    await writeTimelineFiles(
      { html: file },
      storeTimelineSource(collector.store),
      [
        { rolloutId: first.rolloutId, label: 'naive' },
        { rolloutId: second.rolloutId, label: 'drained' },
      ],
      (line) => lines.push(line),
    );
    expect(lines).toEqual([`drainwatch: timeline written to ${file}`]);
    const data = validateTimeline(
      JSON.parse(
        /<script id="timeline-data" type="application\/json">([\s\S]*?)<\/script>/.exec(
          readFileSync(file, 'utf8'),
        )![1]!,
      ),
    );
    expect(data.runs.map((r) => r.label)).toEqual(['naive', 'drained']);
    const shown = await openTimeline(browser, file, { width: 1800, height: 800 });
    try {
      expect(shown.external).toEqual([]);
      expect(shown.errors).toEqual([]);
      expect(shown.drawn).toEqual(data.runs.map(expected));
      await shown.page.screenshot({ path: resolve(TMP, 'side-by-side.png'), fullPage: true });
    } finally {
      await shown.page.close();
    }
  });

  it('verify with --collector-url draws its rollout from that collector’s API', async () => {
    const file = resolve(TMP, 'verify-remote.json');
    const flags = { timelineJson: file, collectorUrl: base };
    await writeVerifyTimeline(flags, second.rolloutId, undefined);
    const remote = validateTimeline(JSON.parse(readFileSync(file, 'utf8'))).runs[0]!;
    const local = await storeTimelineSource(collector.store).run(second.rolloutId);
    expect(remote).toEqual(local);
    await expect(writeVerifyTimeline(flags, 'ro-nope', undefined)).rejects.toThrow(TimelineNotFoundError);
  });
});
