import { describe, expect, it } from 'vitest';
import { QUICK, runRehearseCli } from '../helpers/rehearse-cli.js';

// The two comparisons, each as two short rehearsals of the drained example app.

describe('rehearse comparisons', () => {
  it('sticky cookie routing with a few heavy users skews traffic far more than least-connections', async () => {
    const common = [
      ...QUICK,
      '--variants',
      'drained',
      '--user-mix',
      'skewed',
      '--sessions',
      '20',
      '--warmup',
      '3s',
      '--json',
    ];
    // One after the other: two rehearsals at once would measure the machine, not the balancing.
    const cookie = await runRehearseCli([...common, '--balance', 'cookie']);
    const lc = await runRehearseCli([...common, '--balance', 'least-connections']);
    expect(cookie.code, cookie.stderr.slice(-2000)).toBe(0);
    expect(lc.code, lc.stderr.slice(-2000)).toBe(0);
    const c = cookie.runs[0]!;
    const l = lc.runs[0]!;
    expect(c.stickyRouting).toBe(true);
    expect(c.steadySkew).not.toBeNull();
    expect(l.steadySkew).not.toBeNull();
    // Heavy users pinned by their cookie load their pods; least-connections spreads their requests.
    // Relative to least-connections measured in the same minute: an absolute bound (it was > 2)
    // measured the machine's load as well (1.82 seen with eight other test runs on 2 cores).
    expect(c.steadySkew!).toBeGreaterThan(1.5 * l.steadySkew!);
    expect(l.steadySkew!).toBeLessThan(1.6);
  }, 300_000);

  it('adaptive preStop loses nothing, like fixed:10, and rolls out faster', async () => {
    const common = [...QUICK, '--variants', 'drained', '--replicas', '2', '--max-surge', '2', '--json'];
    const adaptive = await runRehearseCli([...common, '--prestop', 'adaptive']);
    const fixed = await runRehearseCli([...common, '--prestop', 'fixed:10']);
    expect(adaptive.code, adaptive.stderr.slice(-2000)).toBe(0);
    expect(fixed.code, fixed.stderr.slice(-2000)).toBe(0);
    const a = adaptive.runs[0]!;
    const f = fixed.runs[0]!;
    for (const run of [a, f]) {
      expect(run.probeRequests.failed).toBe(0);
      expect(run.sessionPersistence).toBe(1);
    }
    expect(f.prestopP50Ms!).toBeGreaterThanOrEqual(10_000);
    expect(a.prestopP50Ms!).toBeLessThan(10_000);
    expect(a.durationSeconds!).toBeLessThan(f.durationSeconds!);
  }, 300_000);
});
