import { describe, expect, it } from 'vitest';
import { computeReport } from '../../collector/report.js';
import type { ProbeSummary } from '../../probe/index.js';
import {
  evaluateThresholds,
  figureValue,
  formatThresholdSummary,
  PROBE_FIGURES,
  parseThreshold,
  parseThresholds,
  REPORT_FIGURES,
  ThresholdError,
} from '../../witness/index.js';
import { emptyFacts } from '../helpers/report-facts.js';

/** Paths of the number (or null) leaves of `v`, arrays left out. */
function numericLeaves(v: unknown, prefix = ''): string[] {
  if (v === null || typeof v === 'number') return [prefix];
  if (typeof v !== 'object' || Array.isArray(v)) return [];
  return Object.entries(v as Record<string, unknown>).flatMap(([k, x]) =>
    numericLeaves(x, prefix ? `${prefix}.${k}` : k),
  );
}

const PROBE_SUMMARY: ProbeSummary = {
  runId: 'run-1',
  target: 'http://127.0.0.1:1',
  elapsedMs: 10_000,
  sessions: 10,
  sessionsStarted: 10,
  sessionsActive: 9,
  sessionsOk: 9,
  sessionsLost: 1,
  losses: 1,
  lossesByReason: { unauthorized: 1 },
  requests: 200,
  failed: 3,
  retried: 0,
  retriedOk: 0,
  requestsPerSecond: 20,
  errorsByKind: { unauthorized: 1, '5xx': 2 },
  perPod: { a: 100, b: 97 },
  skewRatio: 1.03,
  maxSkewRatio: 1.2,
  runSkewRatio: 1.03,
  sticky: false,
  stickyReason: null,
  connections: { new: 12, reused: 188 },
  websockets: {
    sessions: 2,
    connections: 3,
    open: 2,
    connectFailures: 0,
    messagesSent: 20,
    messagesAcked: 19,
    messagesLost: 1,
    resent: 1,
    closesByCode: { '1006': 1 },
  },
  loopLagMs: 3,
  maxLoopLagMs: 12,
  ramping: false,
  rampMaxLoopLagMs: 40,
  unreliable: false,
  unreliableReason: null,
  eventsPublished: 0,
  eventsDropped: 0,
  startedAt: '2026-11-30T10:00:00.000Z',
  endedAt: '2026-11-30T10:00:10.000Z',
  sessionPersistence: 0.9,
  requestSuccess: 0.985,
  latency: { samples: 200, p50Ms: 4.2, p95Ms: 31, p99Ms: 250.1, maxMs: 900 },
};

describe('threshold names are exactly the paths of the JSON outputs', () => {
  it('the report: every number of a computed report is a figure, and every figure is one of its numbers', () => {
    const report = computeReport(emptyFacts());
    // Nullable fields that are not numbers, and open-ended maps (see threshold-figures.ts).
    const notFigures = [
      /^finishedAt$/,
      /^inconclusive$/,
      /^baseline\.rolloutBeganAt$/,
      /^prestop\.byReason\./,
    ];
    const leaves = numericLeaves(report).filter((p) => !notFigures.some((re) => re.test(p)));
    const names = REPORT_FIGURES.figures.map((f) => f.name);
    expect([...names].sort()).toEqual([...leaves].sort());
  });

  it('the probe summary: every figure resolves, and every counted number is a figure', () => {
    const names = new Set(PROBE_FIGURES.figures.map((f) => f.name));
    for (const f of PROBE_FIGURES.figures) {
      const parent = f.name.split('.').slice(0, -1);
      // A count of a partial record (errors by kind) may be absent: its parent must exist.
      const holder = parent.reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], PROBE_SUMMARY);
      expect(typeof holder, f.name).toBe('object');
      if (f.kind !== 'count') expect(figureValue(PROBE_SUMMARY, f.name, f.kind)).not.toBeNull();
    }
    const transient = ['elapsedMs', 'requestsPerSecond', 'skewRatio', 'loopLagMs', 'sessionsActive'];
    const open = /^(perPod|websockets\.closesByCode|websockets\.open$)/;
    for (const leaf of numericLeaves(PROBE_SUMMARY)) {
      if (
        transient.includes(leaf) ||
        open.test(leaf) ||
        leaf === 'stickyReason' ||
        leaf === 'unreliableReason'
      )
        continue;
      expect(names.has(leaf), leaf).toBe(true);
    }
  });
});

describe('threshold grammar', () => {
  it('reads name, operator and a value in the grammar of the figure', () => {
    expect(parseThreshold('scores.sessionPersistence >= 99.5%', REPORT_FIGURES)).toEqual({
      name: 'scores.sessionPersistence',
      kind: 'ratio',
      op: '>=',
      text: '99.5%',
      limit: 0.995,
    });
    expect(parseThreshold('latency.p99Ms<250ms', REPORT_FIGURES)).toMatchObject({ op: '<', limit: 250 });
    expect(parseThreshold('latency.p99Ms <= 1.5s', REPORT_FIGURES).limit).toBe(1500);
    // A bare number is in the figure's own unit: ms for *Ms, seconds for durationSeconds.
    expect(parseThreshold('latency.p95Ms < 80', REPORT_FIGURES).limit).toBe(80);
    expect(parseThreshold('durationSeconds < 2m', REPORT_FIGURES).limit).toBe(120);
    expect(parseThreshold('durationSeconds < 90', REPORT_FIGURES).limit).toBe(90);
    expect(parseThreshold('failedByCause.cut-in-flight == 0', REPORT_FIGURES)).toMatchObject({
      name: 'failedByCause.cut-in-flight',
      op: '==',
      limit: 0,
    });
    expect(parseThreshold('trafficSkew != 1.5', REPORT_FIGURES)).toMatchObject({ op: '!=', limit: 1.5 });
    expect(parseThreshold('scores.requestSuccess > 0.99', REPORT_FIGURES).limit).toBe(0.99);
  });

  it('accepts the scores by their short names, in both outputs', () => {
    expect(parseThreshold('sessionPersistence >= 1', REPORT_FIGURES).name).toBe('scores.sessionPersistence');
    expect(parseThreshold('scores.requestSuccess >= 1', PROBE_FIGURES).name).toBe('requestSuccess');
  });

  it('refuses an unknown name, listing the valid ones', () => {
    const err = (() => {
      try {
        parseThreshold('latency.p98Ms < 3ms', REPORT_FIGURES);
      } catch (e) {
        return e as ThresholdError;
      }
    })();
    expect(err).toBeInstanceOf(ThresholdError);
    expect(err!.code).toBe('config-threshold');
    expect(err!.message).toContain('unknown figure "latency.p98Ms" of the rollout report');
    expect(err!.message).toContain('latency.{samples,p50Ms,p95Ms,p99Ms,maxMs}');
    expect(err!.message).toContain('failedByCause.{late-arrival,cut-in-flight,');
    expect(err!.message).toContain('scores.{sessionPersistence,requestSuccess,cleanTerminations}');
  });

  it('refuses malformed expressions and values outside the figure grammar', () => {
    for (const bad of [
      'scores.sessionPersistence',
      'scores.sessionPersistence => 1',
      'scores.sessionPersistence >= 1 2',
      'scores.sessionPersistence >= 150%',
      'failedByCause.cut-in-flight < 1.5',
      'latency.p99Ms < soon',
    ])
      expect(() => parseThreshold(bad, REPORT_FIGURES), bad).toThrow(ThresholdError);
  });

  it('parseThresholds splits on ";" and reports every problem at once', () => {
    expect(
      parseThresholds(['sessionPersistence >= 1; latency.p99Ms < 1s', ' ; '], REPORT_FIGURES).map(
        (t) => t.name,
      ),
    ).toEqual(['scores.sessionPersistence', 'latency.p99Ms']);
    expect(() => parseThresholds(['nope > 1', 'latency.p99Ms < x'], REPORT_FIGURES)).toThrow(
      /unknown figure "nope"[\s\S]*\n--threshold "latency.p99Ms < x": expected a duration/,
    );
  });
});

describe('threshold evaluation and summary', () => {
  const report = {
    scores: { sessionPersistence: 1, requestSuccess: 0.97, cleanTerminations: null },
    failedByCause: { 'cut-in-flight': 3 },
    latency: { p99Ms: 412.25 },
  };
  const ts = parseThresholds(
    [
      'sessionPersistence >= 99.5%',
      'latency.p99Ms < 250ms',
      'failedByCause.cut-in-flight == 0',
      'scores.cleanTerminations >= 1',
      'clientErrors.reset == 0',
    ],
    REPORT_FIGURES,
  );

  it('passes, fails on the measured value, fails without evidence, reads absent counts as 0', () => {
    const v = evaluateThresholds(ts, report);
    expect(v.passed).toBe(false);
    expect(v.inconclusive).toBeUndefined();
    expect(v.results.map((r) => [r.name, r.value, r.passed])).toEqual([
      ['scores.sessionPersistence', 1, true],
      ['latency.p99Ms', 412.25, false],
      ['failedByCause.cut-in-flight', 3, false],
      ['scores.cleanTerminations', null, false],
      ['clientErrors.reset', 0, true],
    ]);
    expect(evaluateThresholds(ts.slice(0, 1), report).passed).toBe(true);
    for (const [op, expected] of [
      ['<', false],
      ['<=', true],
      ['>', false],
      ['>=', true],
      ['==', true],
      ['!=', false],
    ] as const)
      expect(evaluateThresholds([{ ...ts[0]!, op, limit: 1 }], report).passed, op).toBe(expected);
  });

  it('prints one ✓/✗ line per threshold with the measured value, k6-style', () => {
    const text = formatThresholdSummary(evaluateThresholds(ts, report), REPORT_FIGURES);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('Thresholds');
    expect(lines[1]).toMatch(/^ {2}✓ scores\.sessionPersistence >= 99\.5% \.+ 100\.00%$/);
    expect(lines[2]).toMatch(/^ {2}✗ latency\.p99Ms < 250ms \.+ 412\.25ms$/);
    expect(lines[3]).toMatch(/^ {2}✗ failedByCause\.cut-in-flight == 0 \.+ 3$/);
    expect(lines[4]).toMatch(/^ {2}✗ scores\.cleanTerminations >= 1 \.+ n\/a \(nothing observed\)$/);
    expect(lines[5]).toMatch(/^ {2}✓ clientErrors\.reset == 0 \.+ 0$/);
    expect(lines[6]).toBe('  3 of 5 failed');
  });

  it('an inconclusive run neither passes nor fails: ? marks, the reason', () => {
    const v = evaluateThresholds(ts.slice(0, 1), report, 'probe event-loop lag 800 ms');
    expect(v).toMatchObject({ passed: false, inconclusive: 'probe event-loop lag 800 ms' });
    const text = formatThresholdSummary(v, REPORT_FIGURES);
    expect(text).toMatch(/^ {2}\? scores\.sessionPersistence >= 99\.5% \.+ 100\.00%$/m);
    expect(text).toContain('INCONCLUSIVE: probe event-loop lag 800 ms; the thresholds neither pass nor fail');
  });

  it('the probe summary is judged by the same code', () => {
    const v = evaluateThresholds(
      parseThresholds(
        ['sessionPersistence >= 90%', 'latency.p99Ms < 250ms', 'errorsByKind.timeout == 0'],
        PROBE_FIGURES,
      ),
      PROBE_SUMMARY,
    );
    expect(v.results.map((r) => r.passed)).toEqual([true, false, true]);
  });
});
