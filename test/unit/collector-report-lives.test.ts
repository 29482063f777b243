import { describe, expect, it } from 'vitest';
import { phaseAt, podLife, podLives, reachedPod } from '../../collector/report-lives.js';
import { emptyFacts, ms, podEvent } from '../helpers/report-facts.js';

describe('report lives: a pod told by its timeline', () => {
  const timeline = [
    podEvent('agent.started', -60),
    podEvent('prestop.started', 10),
    podEvent('prestop.started', 9),
    podEvent('prestop.finished', 15, { reason: 'max', durationMs: 6000 }),
    podEvent('sigterm', 16),
    podEvent('app.stopped-listening', 17),
    podEvent('websocket.closed', 18, { closedPhase: 'draining', closeFrame: true, code: 1001 }),
    podEvent('websocket.closed', 18, { closedPhase: 'draining', closeFrame: false }),
    podEvent('websocket.closed', 5, { closedPhase: 'serving', closeFrame: false }),
    podEvent('app.exited', 20, { killedAtGrace: true, code: 137 }),
    // Another agent instance of the same pod name (an earlier life): not this one.
    podEvent('app.exited', 1, {}, 'agent-0'),
    // The cluster adapter's measure, under its own instance: before this termination, then after.
    podEvent('endpoints.propagated', 2, { propagationMs: 900 }, 'adapter'),
    podEvent('endpoints.propagated', 11, { propagationMs: 2500 }, 'adapter'),
  ];

  it('keeps the earliest of each moment, the agent’s data, and closes outside serving', () => {
    const life = podLife('web-1', 'agent-1', ms(9), timeline);
    expect(life).toMatchObject({
      prestopStartMs: ms(9),
      sigtermMs: ms(16),
      stoppedMs: ms(17),
      exitedMs: ms(20),
      firstEventMs: ms(-60),
      propagationMs: 2500,
      wsCloses: { '1001': 1, none: 1 },
    });
    expect(life.prestopFinished?.reason).toBe('max');
    expect(life.exited).toMatchObject({ killedAtGrace: true, code: 137 });
  });

  it('phaseAt: serving, prestop, draining, exited; unknown without a life', () => {
    const life = podLife('web-1', 'agent-1', ms(9), timeline);
    expect([0, 9, 12, 16, 19, 20, 30].map((s) => phaseAt(life, ms(s)))).toEqual([
      'serving',
      'prestop',
      'prestop',
      'draining',
      'draining',
      'exited',
      'exited',
    ]);
    expect(phaseAt(undefined, ms(0))).toBe('unknown');
  });

  it('reachedPod: from the agent’s first event to its exit', () => {
    const life = podLife('web-1', 'agent-1', ms(9), timeline);
    expect([-61, -60, 20, 21].map((s) => reachedPod(life, ms(s)))).toEqual([false, true, true, false]);
  });

  it('podLives: terminations in order, and pods outside the window from their timelines', () => {
    const facts = emptyFacts({
      terminations: [
        { pod: 'web-2', instance: 'agent-2', startMs: ms(30) },
        { pod: 'web-1', instance: 'agent-1', startMs: ms(9) },
        { pod: 'web-1', instance: 'agent-1', startMs: ms(40) },
      ],
      timelines: new Map([
        ['web-1', timeline],
        ['web-3', [podEvent('agent.started', -5, {}, 'agent-3'), podEvent('sigterm', 50, {}, 'agent-3')]],
      ]),
    });
    const lives = podLives(facts);
    expect([...lives.terminated.keys()]).toEqual(['web-1', 'web-2']);
    expect(lives.terminated.get('web-1')?.startMs).toBe(ms(9));
    expect(lives.lifeOf('web-1')).toBe(lives.terminated.get('web-1'));
    expect(lives.lifeOf('web-3')).toMatchObject({ instance: 'agent-3', sigtermMs: ms(50) });
    expect(lives.lifeOf('web-1', 'agent-0')).toMatchObject({ instance: 'agent-0', exitedMs: ms(1) });
    expect(lives.lifeOf('web-9')).toBeUndefined();
    expect(lives.lifeOf(null)).toBeUndefined();
  });
});
