import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Collector, createCollector, type RolloutReport } from '../../collector/index.js';
import { createEventSequencer, type EventData } from '../../contract/validate.js';
import { freePort } from '../../lib/servers.js';
import type { ProbeSummary } from '../../probe/index.js';
import type { ThresholdVerdict } from '../../witness/index.js';
import { type CollectorEnv, startCollectorEnv } from '../helpers/collector-harness.js';
import { CLI_BIN } from '../helpers/collector-process.js';
import { NS, publishAll, WL } from '../helpers/collector-scenario.js';
import { type ScenarioApp, type SessionStore, startScenarioApp } from '../helpers/probe-targets.js';

// --threshold end to end: `drainwatch probe` (the compiled bin) against an app that delays every
// fifth request by a known amount, its probe.request events through NATS into a real collector
// and Redis inside a rollout window, then `drainwatch report` judging that stored rollout. The
// latency percentiles are checked against the durations the events carried (exact) and against
// the delays the app imposed (each measured duration is at least its imposed delay).

const SLOW_MS = 300;

function cli(args: readonly string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    execFile(
      process.execPath,
      [CLI_BIN, ...args],
      { encoding: 'utf8', timeout: 90_000, env: { ...process.env, NATS_URL: '', ...env } },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: unknown }).code as number | null) : 0;
        resolve({ code: typeof code === 'number' ? code : null, out: stdout, err: stderr });
      },
    );
  });
}

/** Nearest rank, computed here independently of the collector. */
function rank(sorted: readonly number[], p: number): number {
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

describe('--threshold on probe and report, probe latency through NATS, the collector and Redis', () => {
  let env: CollectorEnv;
  let collector: Collector;
  let app: ScenarioApp;
  const imposed = new Map<string, number>();
  const durations = new Map<string, number>();
  const rolloutId = `ro-thresholds-${Date.now()}`;
  let probe: { code: number | null; out: string; err: string };
  let reportEnv: Record<string, string>;

  beforeAll(async () => {
    env = await startCollectorEnv();
    collector = createCollector(env.config(), { nats: env.nc, redis: env.redis });
    await collector.start();
    let n = 0;
    const store: SessionStore = new Map();
    app = await startScenarioApp({
      pod: 'quote-1',
      writeTo: [store],
      readFrom: store,
      delayMs: ({ probeId }) => {
        n += 1;
        const ms = n % 5 === 0 ? SLOW_MS : 0;
        if (probeId) imposed.set(probeId, ms);
        return ms;
      },
    });
    // Every probe.request as published, read off NATS by this test (core subscribers see JetStream publishes).
    const sub = env.nc.subscribe(`${env.ns.subjectRoot}.v1.${NS}.${WL}.>`, {
      callback: (_err, msg) => {
        const e = msg.json<{ type: string; data: EventData<'probe.request'> }>();
        if (e.type.endsWith('.probe.request')) durations.set(e.data.probeId, e.data.durationMs);
      },
    });
    const control = createEventSequencer({ namespace: NS, workload: WL, pod: null });
    await publishAll(
      env.nc,
      [control.next('rollout.started', { rolloutId, trigger: 'cli' }, new Date(Date.now() - 1000))],
      env.ns.subjectRoot,
    );
    probe = await cli([
      'probe',
      '--target',
      app.url,
      '--nats-url',
      env.servers.nats.url,
      '--subject-root',
      env.ns.subjectRoot,
      '--stream',
      env.ns.streamName,
      '--namespace',
      NS,
      '--workload',
      WL,
      '--sessions',
      '4',
      '--rate',
      '5',
      '--websockets',
      '0',
      '--duration',
      '4s',
      '--json',
      '--threshold',
      `latency.p95Ms >= ${SLOW_MS}ms`,
      '--threshold',
      `latency.p50Ms >= ${SLOW_MS}ms`,
    ]);
    await publishAll(
      env.nc,
      [control.next('rollout.finished', { rolloutId, outcome: 'complete', podsReplaced: 0 }, new Date())],
      env.ns.subjectRoot,
    );
    await env.nc.flush();
    sub.unsubscribe();
    await collector.drain(30_000);
    reportEnv = { REDIS_URL: env.servers.redis.url, DRAINWATCH_REDIS_PREFIX: env.ns.redisPrefix };
  }, 120_000);

  afterAll(async () => {
    await collector?.stop();
    await app?.stop();
    await env?.stop();
  });

  it('probe: a failing threshold exits 1; --json carries each result with its measured value', () => {
    expect(probe.code, probe.err).toBe(1);
    const summary = JSON.parse(probe.out) as ProbeSummary & { thresholds: ThresholdVerdict };
    expect(summary.thresholds.passed).toBe(false);
    expect(summary.thresholds.results.map((r) => [r.name, r.op, r.threshold, r.passed])).toEqual([
      ['latency.p95Ms', '>=', `${SLOW_MS}ms`, true],
      ['latency.p50Ms', '>=', `${SLOW_MS}ms`, false],
    ]);
    expect(summary.thresholds.results[0]!.value).toBe(summary.latency.p95Ms);
    // The probe's HdrHistogram is within 0.1% (+1 µs) of the exact nearest rank, never below it.
    const exact = [...durations.values()].sort((a, b) => a - b);
    expect(summary.latency.samples).toBe(summary.requests);
    expect(summary.requests).toBe(exact.length);
    for (const p of [50, 95, 99] as const) {
      const got = summary.latency[`p${p}Ms`]!;
      expect(got).toBeGreaterThanOrEqual(rank(exact, p) - 0.001);
      expect(got).toBeLessThanOrEqual(rank(exact, p) * 1.001 + 0.001);
    }
  });

  it('report: latency p50/p95/p99 are exactly the nearest ranks of the probe requests, above the delays imposed', async () => {
    const r = await cli(['report', rolloutId, '--json'], reportEnv);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out) as RolloutReport;
    const exact = [...durations.values()].sort((a, b) => a - b);
    expect(report.probeRequests.total).toBe(exact.length);
    expect(report.latency).toEqual({
      samples: exact.length,
      p50Ms: rank(exact, 50),
      p95Ms: rank(exact, 95),
      p99Ms: rank(exact, 99),
      maxMs: exact.at(-1),
    });
    // Each request took at least the delay the app imposed on it; one in five was slow.
    for (const [id, ms] of imposed)
      if (durations.has(id)) expect(durations.get(id)!).toBeGreaterThanOrEqual(ms);
    const slow = [...imposed.values()].filter((ms) => ms === SLOW_MS).length;
    expect(slow / imposed.size).toBeGreaterThan(0.1);
    expect(report.latency.p95Ms!).toBeGreaterThanOrEqual(SLOW_MS);
    expect(report.latency.p99Ms!).toBeGreaterThanOrEqual(SLOW_MS);
    expect(report.latency.p50Ms!).toBeLessThan(SLOW_MS);
    expect(report.invariantViolations).toEqual([]);
  });

  it('report: ✓ and exit 0 when every threshold holds, ✗ with the value and exit 1 when one fails', async () => {
    const pass = await cli(
      [
        'report',
        rolloutId,
        '--threshold',
        'scores.requestSuccess >= 100%',
        '--threshold',
        `latency.p99Ms >= ${SLOW_MS}ms`,
      ],
      reportEnv,
    );
    expect(pass.code, pass.err).toBe(0);
    expect(pass.out).toMatch(/^ {2}✓ scores\.requestSuccess >= 100% \.+ 100\.00%$/m);
    expect(pass.out).toMatch(/^ {2}✓ latency\.p99Ms >= 300ms \.+ [\d.]+ms$/m);
    expect(pass.out).toContain('all 2 passed');

    const json = await cli(
      ['report', rolloutId, '--json', '--threshold', 'latency.p50Ms > 300ms'],
      reportEnv,
    );
    expect(json.code).toBe(1);
    const { latency, thresholds } = JSON.parse(json.out) as RolloutReport & { thresholds: ThresholdVerdict };
    expect(thresholds).toEqual({
      passed: false,
      results: [
        {
          name: 'latency.p50Ms',
          op: '>',
          threshold: '300ms',
          limit: 300,
          value: latency.p50Ms,
          passed: false,
        },
      ],
    });

    // The same from DRAINWATCH_THRESHOLDS, ';'-separated, and the text summary with the value.
    const fail = await cli(['report', rolloutId], {
      ...reportEnv,
      DRAINWATCH_THRESHOLDS: 'failedByCause.cut-in-flight == 0; latency.p50Ms > 300ms',
    });
    expect(fail.code).toBe(1);
    expect(fail.out).toMatch(/^ {2}✓ failedByCause\.cut-in-flight == 0 \.+ 0$/m);
    const p50 = Number(Number(latency.p50Ms!.toFixed(3)));
    expect(fail.out).toMatch(new RegExp(`^ {2}✗ latency\\.p50Ms > 300ms \\.+ ${p50}ms$`, 'm'));
    expect(fail.out).toContain('1 of 2 failed');

    // --gate stays: passed gate, failed threshold → 1; both passed → 0.
    expect(
      (await cli(['report', rolloutId, '--gate', '1', '--threshold', 'latency.p50Ms > 300ms'], reportEnv))
        .code,
    ).toBe(1);
    expect(
      (await cli(['report', rolloutId, '--gate', '1', '--threshold', 'latency.p50Ms < 300ms'], reportEnv))
        .code,
    ).toBe(0);
  });

  it('an unknown name is a usage error (exit 2) listing the valid names, before anything starts', async () => {
    // Redis is not even reachable: the threshold is refused before the command connects to it.
    const dead = `redis://127.0.0.1:${await freePort()}`;
    const r = await cli(['report', rolloutId, '--threshold', 'latency.p98Ms < 1s'], {
      ...reportEnv,
      REDIS_URL: dead,
    });
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown figure "latency.p98Ms" of the rollout report');
    expect(r.err).toContain('latency.{samples,p50Ms,p95Ms,p99Ms,maxMs}');
    expect(r.err).not.toContain('Redis');
    // The probe refuses it before it checks its target.
    const p = await cli([
      'probe',
      '--target',
      `http://127.0.0.1:${await freePort()}`,
      '--threshold',
      'nope == 1',
    ]);
    expect(p.code).toBe(2);
    expect(p.err).toContain('unknown figure "nope" of the probe summary');
  });
});
