import { describe, expect, it } from 'vitest';
import { createProgressDisplay, type ProgressState } from '../../rehearse/progress.js';

// Start-up steps show from the first second of a rehearsal, before any traffic: a plain line each
// in a log, one line rewritten in place on a terminal, then replaced by the live progress line.

function output(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, out: { isTTY, write: (t: string) => writes.push(t) } };
}

const state: ProgressState = {
  label: 'naive',
  podsReplaced: 0,
  podsTotal: 3,
  sessionsOk: 0,
  sessionsLost: 0,
  requests: 0,
  errors: 0,
  elapsedMs: 0,
};

describe('rehearsal start-up steps', () => {
  it('prints one plain line per step when stderr is not a terminal', () => {
    const { writes, out } = output(false);
    const p = createProgressDisplay(out);
    p.step('drainwatch rehearse: starting nats-server and redis-server');
    p.step('[naive] starting 3 pods of the quote app, waiting for them to be ready');
    p.update(state);
    expect(writes).toEqual([
      'drainwatch rehearse: starting nats-server and redis-server…\n',
      '[naive] starting 3 pods of the quote app, waiting for them to be ready…\n',
      expect.stringMatching(/^\[naive\] {3}0s {2}pods replaced 0\/3 .*\n$/),
    ]);
  });

  it('rewrites one line in place on a terminal, the live line taking it over', () => {
    const { writes, out } = output(true);
    const p = createProgressDisplay(out);
    p.step('[naive] starting 3 pods');
    p.update(state);
    p.done();
    expect(writes[0]).toBe('\r[naive] starting 3 pods…\x1b[K');
    expect(writes[1]).toMatch(/^\r\[naive\] {3}0s/);
    expect(writes.at(-1)).toMatch(/\n$/);
  });

  it('ends a step left on a terminal line when the run stops before any progress', () => {
    const { writes, out } = output(true);
    const p = createProgressDisplay(out);
    p.step('starting the collector');
    p.done();
    expect(writes).toEqual(['\rstarting the collector…\x1b[K', '\n']);
  });
});
