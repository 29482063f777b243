import { afterEach, describe, expect, it } from 'vitest';
import { pollUntil } from '../../lib/wait.js';
import { createProbeRun, formatProgress, type ProbeSnapshot } from '../../probe/index.js';
import { type ScenarioApp, type SessionStore, startScenarioApp } from '../helpers/probe-targets.js';

// The probe must not blame the service for its own overload: a blocked event loop marks the run
// unreliable and the progress line says so.

describe('probe event-loop lag', () => {
  let app: ScenarioApp | undefined;
  afterEach(async () => {
    await app?.stop();
  });

  it('marks the run unreliable when its own event loop stalls beyond the threshold', async () => {
    const s: SessionStore = new Map();
    app = await startScenarioApp({ pod: 'lag-pod', writeTo: [s], readFrom: s });
    const run = createProbeRun({
      target: app.url,
      sessions: 2,
      websockets: 0,
      progressIntervalMs: 100,
      lagThresholdMs: 100,
    });
    const seen: ProbeSnapshot[] = [];
    run.onProgress((snap) => seen.push(snap));
    await run.start();
    // Lag while sessions are still starting is reported apart, so stall after the ramp settled.
    await pollUntil(() => run.snapshot().requests >= 2 && !run.snapshot().ramping, {
      timeoutMs: 30_000,
      what: 'the ramp to settle',
    });
    // Hold the event loop for 400 ms, as a probe starved of CPU would be, and let a progress tick
    // see it. On a loaded machine a tick can fall between the stall and its measurement, so the
    // stall repeats (at most five times) until a snapshot reports it; a probe that never marks
    // itself unreliable still fails here.
    for (let stall = 0; stall < 5 && !seen.some((x) => x.unreliable); stall++) {
      const until = Date.now() + 400;
      while (Date.now() < until) {
        /* busy on purpose */
      }
      await pollUntil(() => seen.some((x) => x.unreliable), {
        timeoutMs: 2000,
        what: 'an unreliable snapshot',
      }).catch(() => undefined);
    }
    // What the ticks saw, said when none reported the stalls (seen once in CI, not reproduced).
    const ticks = seen
      .slice(-8)
      .map((x) => `lag ${x.loopLagMs} max ${x.maxLoopLagMs} ramp ${x.rampMaxLoopLagMs} ramping ${x.ramping}`);
    expect(
      seen.some((x) => x.unreliable),
      `${seen.length} ticks; last: ${ticks.join('; ')}`,
    ).toBe(true);
    const summary = await run.stop();
    expect(summary.unreliable).toBe(true);
    expect(summary.maxLoopLagMs).toBeGreaterThan(100);
    expect(summary.unreliableReason).toMatch(/event-loop lag reached \d+ ms \(> 100 ms\)/);
    expect(formatProgress(seen.find((x) => x.unreliable)!)).toContain('UNRELIABLE');
  });
});
