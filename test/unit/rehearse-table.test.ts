import { describe, expect, it } from 'vitest';
import {
  createProgressDisplay,
  formatComparison,
  formatProgressLine,
  gateOf,
  type RehearsalRun,
} from '../../rehearse/index.js';

function run(label: string, over: Partial<RehearsalRun> = {}): RehearsalRun {
  return {
    label,
    rolloutId: `r-${label}`,
    settings: {
      app: 'quote-app sessions=memory graceful=off',
      replicas: 3,
      balance: 'round-robin',
      entry: 'local',
      propagation: '1000-5000ms',
      graceSeconds: 30,
      prestop: 'none',
      userMix: 'uniform',
      sidecar: 'agent',
    },
    outcome: 'complete',
    entry: {
      entry: 'local',
      version: 'drainwatch local entry point',
      retries: 2,
      retriedElsewhere: 1,
      upstreamErrors: { refused: 1, 'stale-keepalive': 1 },
      changes: [],
      applyP50Ms: 0,
      applyMaxMs: 0,
    },
    durationSeconds: 12.34,
    podsReplaced: 3,
    probeRequests: { total: 400, failed: 12, retriedOk: 0 },
    failurePct: 3,
    sessions: { active: 30, lost: 9 },
    sessionPersistence: 0.7,
    requestSuccess: 0.97,
    cleanTerminations: 0,
    inFlightLost: 4,
    inFlightCutAllTraffic: 4,
    baseline: { failed: 0, requests: 40, sessionsLost: 0, failedByCause: {}, sessionsLostByCause: {} },
    healthChecks: { requests: 0, failed: 0 },
    websocketOutcomes: { 'no-close-frame': 5 },
    lateArrivals: 8,
    websocketCloses: { '1006': 5 },
    messagesLost: 7,
    streamEnds: {},
    messagesLostAtTermination: 0,
    messagesResent: 5,
    failedByCause: { 'late-arrival': 8, 'session-in-memory': 9, 'no-close-frame': 0 },
    sessionsLostByCause: { 'session-in-memory': 9 },
    trafficSkew: 1.2,
    steadySkew: 1.1,
    stickyRouting: false,
    prestopP50Ms: 0,
    latency: { p50Ms: 4.2, p95Ms: 31, p99Ms: 1250 },
    propagationMaxMs: 4200,
    unreliable: null,
    inconclusive: null,
    ...over,
  };
}

describe('comparison table', () => {
  it('prints the runs side by side with every figure the issue asks for', () => {
    const naive = run('naive');
    const drained = run('drained', {
      probeRequests: { total: 420, failed: 0, retriedOk: 0 },
      failurePct: 0,
      sessions: { active: 30, lost: 0 },
      sessionPersistence: 1,
      inFlightLost: 0,
      websocketCloses: { '1001': 6 },
      messagesLost: 0,
      messagesResent: 0,
      failedByCause: {},
      sessionsLostByCause: {},
      gate: gateOf({ sessionPersistence: 1 }, 1),
    });
    const text = formatComparison([naive, drained], 80);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^\s+naive\s+drained$/);
    const line = (label: string) => lines.find((l) => l.startsWith(label))!;
    expect(line('failed requests')).toMatch(/12\s+0$/);
    expect(line('failure %')).toMatch(/3\.00%\s+0\.00%$/);
    expect(line('session persistence')).toMatch(/70\.0%\s+100\.0%$/);
    expect(line('sessions lost')).toMatch(/9 of 30\s+0 of 30$/);
    expect(line('in-flight requests lost')).toMatch(/4\s+0$/);
    expect(line('WebSocket closes')).toMatch(/1006×5\s+1001×6$/);
    expect(line('probe latency p50 / p95 / p99')).toMatch(/4 ms \/ 31 ms \/ 1\.3 s\s+4 ms/);
    expect(line('messages lost')).toMatch(/7\s+0$/);
    expect(line('messages re-sent')).toMatch(/5\s+0$/);
    expect(line('rollout duration')).toMatch(/12\.3 s/);
    expect(line('causes of failed requests')).toMatch(/session-in-memory×9, late-arrival×8\s+-$/);
    expect(line('gate')).toMatch(/-\s+PASS/);
  });

  it("names each run's entry point with its retries, upstream errors and endpoint changes", () => {
    const nginx = run('drained/nginx', {
      settings: { ...run('x').settings, entry: 'nginx' },
      entry: {
        entry: 'nginx',
        version: 'nginx/1.22.1',
        retries: 3,
        retriedElsewhere: 3,
        upstreamErrors: { refused: 3 },
        changes: [
          { type: 'add', pod: 'a', delayMs: 500, applyMs: 120 },
          { type: 'remove', pod: 'b', delayMs: 700, applyMs: 1500 },
        ],
        applyP50Ms: 120,
        applyMaxMs: 1500,
      },
    });
    const lines = formatComparison([run('drained/local'), nginx], 60).split('\n');
    const line = (label: string) => lines.find((l) => l.startsWith(label))!;
    expect(line('entry point')).toMatch(/drainwatch local entry point\s+nginx\/1\.22\.1$/);
    expect(line('entry retries')).toMatch(/2 \(1 to another pod\)\s+3 \(3 to another pod\)$/);
    expect(line('entry upstream errors')).toMatch(/refused×1, stale-keepalive×1\s+refused×3$/);
    expect(line('endpoint changes applied')).toMatch(/at once \(no reload\)\s+2; p50 120 ms, max 1\.5 s$/);
  });

  it('wraps a long cell onto continuation lines under its column', () => {
    const lines = formatComparison([run('naive'), run('drained')], 24).split('\n');
    const at = lines.findIndex((l) => l.startsWith('causes of failed'));
    expect(lines[at]).toMatch(/session-in-memory×9,\s+session-in-memory×9,$/);
    expect(lines[at + 1]).toMatch(/^\s+late-arrival×8\s+late-arrival×8$/);
  });

  it('fails the gate below the threshold and without a score', () => {
    expect(gateOf({ sessionPersistence: 0.99 }, 1).passed).toBe(false);
    expect(gateOf({ sessionPersistence: null }, 0.5).passed).toBe(false);
    expect(gateOf({ sessionPersistence: 0.95 }, 0.95).passed).toBe(true);
  });
});

describe('progress display', () => {
  const state = {
    label: 'naive',
    podsReplaced: 1,
    podsTotal: 3,
    sessionsOk: 20,
    sessionsLost: 2,
    requests: 100,
    errors: 3,
    elapsedMs: 4000,
  };

  it('rewrites one line on a terminal', () => {
    const out: string[] = [];
    const d = createProgressDisplay({ isTTY: true, write: (s: string) => out.push(s) });
    d.update(state);
    d.update({ ...state, podsReplaced: 2 });
    d.done();
    expect(out).toHaveLength(3);
    expect(out.every((s) => s.startsWith('\r'))).toBe(true);
    expect(out[2]).toContain('pods replaced 2/3');
    expect(out[2]!.endsWith('\n')).toBe(true);
    expect(formatProgressLine(state)).toContain('sessions ok 20 lost 2');
  });

  it('prints a line at most every interval elsewhere, and the last state at the end', () => {
    const out: string[] = [];
    let now = 0;
    const d = createProgressDisplay(
      { write: (s: string) => out.push(s) },
      { intervalMs: 5000, now: () => now },
    );
    d.update(state);
    now = 1000;
    d.update({ ...state, requests: 150 });
    now = 6000;
    d.update({ ...state, requests: 200 });
    now = 7000;
    d.update({ ...state, requests: 250 });
    d.done();
    expect(out.map((l) => /requests so far (\d+)/.exec(l)![1])).toEqual(['100', '200', '250']);
    expect(out.every((l) => l.endsWith('\n') && !l.includes('\r'))).toBe(true);
  });
});

describe('progress display, repeated state', () => {
  it('does not print the same line twice at the end', () => {
    const out: string[] = [];
    const d = createProgressDisplay(
      { write: (s: string) => out.push(s) },
      { intervalMs: 5000, now: () => 0 },
    );
    const s = {
      label: 'x',
      podsReplaced: 3,
      podsTotal: 3,
      sessionsOk: 1,
      sessionsLost: 0,
      requests: 9,
      errors: 0,
      elapsedMs: 1000,
    };
    d.update(s);
    d.update({ ...s });
    d.done();
    d.done();
    expect(out).toHaveLength(1);
  });
});
