import { describe, expect, it } from 'vitest';
import type { RolloutReport } from '../../collector/index.js';
import { QUICK, type RehearseCliResult, runRehearseCli } from '../helpers/rehearse-cli.js';

// Issue #15 through a real rehearsal: round-robin balancing in front of an app that keeps its
// sessions in memory loses them before any pod is replaced. The report must put those losses in
// the baseline with the cause the evidence shows (another replica refused a session its issuer,
// still serving, had made), fail the gate saying so, count the local readiness checks apart, and
// reconcile its figures.

function explain(r: RehearseCliResult): string {
  return `exit ${r.code}\nstderr:\n${r.stderr.slice(-3000)}\nstdout:\n${r.stdout.slice(0, 3000)}`;
}

const sum = (rec: Readonly<Record<string, number>>): number => Object.values(rec).reduce((a, b) => a + b, 0);

describe('rehearse: the report tells the truth (#15)', () => {
  it('round robin with memory sessions: losses before the rollout are baseline defects, not the rollout’s', async () => {
    const r = await runRehearseCli([
      ...QUICK,
      '--variants',
      'naive',
      '--balance',
      'round-robin',
      '--replicas',
      '2',
      '--json',
      '--gate',
      '0.5',
    ]);
    const run = r.runs[0];
    expect(run, explain(r)).toBeDefined();
    const report = run!.report as RolloutReport;
    // An overloaded probe makes the run inconclusive (exit 4); otherwise the gate fails (exit 1).
    expect(r.code, explain(r)).toBe(run!.inconclusive ? 4 : 1);

    expect(report.baseline.rolloutBeganAt, explain(r)).not.toBeNull();
    expect(report.baseline.sessionsLost, explain(r)).toBeGreaterThan(0);
    expect(report.baseline.sessionsLostByCause['session-not-shared']).toBeGreaterThan(0);
    expect(report.baseline.sessionsLostByCause.other).toBe(0);
    expect(report.gate?.passed).toBe(false);
    expect(report.gate?.reasons?.join('\n')).toMatch(/loses sessions even without a rollout/);
    expect(r.stdout).toContain('session-not-shared');

    // The local cluster's readiness checks went through the agents and were counted apart.
    expect(report.healthChecks.requests, explain(r)).toBeGreaterThan(0);

    // Every failed request counted once, with one cause; the figures reconcile.
    expect(report.invariantViolations).toEqual([]);
    expect(sum(report.failedByCause)).toBe(report.probeRequests.failed);
    expect(sum(report.baseline.failedByCause)).toBe(report.baseline.failed);
    expect(report.inFlightLost).toBe(
      report.failedByCause['cut-in-flight'] + report.failedByCause['killed-at-grace'],
    );
    expect(run!.inFlightLost).toBe(report.inFlightLost);
  }, 300_000);
});
