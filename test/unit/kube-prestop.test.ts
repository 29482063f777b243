import { describe, expect, it } from 'vitest';
import { readPreStop } from '../../kube/prestop.js';

// The one preStop reader lint and inject share: exec and sleep handlers, GNU sleep's operands,
// sequences, counted loops, and "unknown" for what it cannot bound.

const sh = (script: string) => readPreStop({ exec: { command: ['/bin/sh', '-c', script] } })!;

describe('readPreStop', () => {
  it.each([
    ['sleep 10', 10],
    ['sleep 1m', 60],
    ['sleep 2.5', 2.5],
    ['sleep 1m 30s', 90],
    ['sleep .5s', 0.5],
    ['sleep 1h', 3600],
    ['sleep 5; sleep 10', 15],
    ['exec sleep 20', 20],
    ['/bin/sleep "7"', 7],
  ])('sh -c %j only sleeps, %d s', (script, seconds) => {
    expect(sh(script)).toEqual({ seconds, onlySleeps: true, invalidSleeps: [] });
  });

  it.each([
    ['sleep 60 && nginx -s quit', 60],
    ['nginx -s quit; sleep 60', 60],
    ['nginx -s quit && sleep 5 || true', 5],
    ['sleep 5 > /dev/null 2>&1; /usr/sbin/nginx -s quit', 5],
    ['if [ -f /tmp/ready ]; then sleep 10; else sleep 3; fi', 10],
    ['echo draining # sleep 99\nsleep 4\nkill -TERM 1', 4],
    ['sleep 5 | cat', 5],
  ])('sh -c %j sums its sleeps to %d s and does more than sleep', (script, seconds) => {
    expect(sh(script)).toEqual({ seconds, onlySleeps: false, invalidSleeps: [] });
  });

  it('bounds counted loops: 10 × sleep 30 is 300 s', () => {
    expect(sh('for i in $(seq 10); do sleep 30; done')).toMatchObject({ seconds: 300, onlySleeps: true });
    expect(sh('for i in $(seq 2 4)\ndo\n  sleep 5\ndone')).toMatchObject({ seconds: 15 });
    expect(sh('for i in 1 2 3; do curl -s localhost/drain; sleep 2; done')).toMatchObject({
      seconds: 6,
      onlySleeps: false,
    });
  });

  it.each([
    ['while true; do sleep 1; done', /while loop/],
    ['until curl -s localhost/idle; do sleep 1; done', /until loop/],
    ['for f in /tmp/*; do sleep 1; done', /cannot count/],
    ['for i in $(seq $N); do sleep 1; done', /cannot count/],
    ['sleep $DELAY', /\$DELAY/],
    ['/scripts/drain.sh', /script/],
    ['sleep 100 & wait', /background/],
    ['sleep infinity', /never ends/],
    ['case $1 in a) sleep 1;; esac', /cannot parse/],
  ])('sh -c %j has an unknown duration', (script, why) => {
    const r = sh(script);
    expect(r.seconds).toBeUndefined();
    expect(r.unknown).toMatch(why);
  });

  it('reports sleep operands GNU sleep rejects (the command fails at once)', () => {
    expect(sh('sleep 1m30s')).toEqual({ seconds: 0, onlySleeps: true, invalidSleeps: ['1m30s'] });
    expect(sh('sleep 10sec && nginx -s quit')).toMatchObject({ seconds: 0, invalidSleeps: ['10sec'] });
  });

  it('reads argv without a shell, the sleep handler, and leaves httpGet to the caller', () => {
    expect(readPreStop({ exec: { command: ['sleep', '15'] } })).toMatchObject({
      seconds: 15,
      onlySleeps: true,
    });
    expect(readPreStop({ exec: { command: ['nginx', '-s', 'quit'] } })).toMatchObject({
      seconds: 0,
      onlySleeps: false,
    });
    expect(readPreStop({ exec: { command: ['bash', '-ec', 'sleep 3'] } })).toMatchObject({ seconds: 3 });
    expect(readPreStop({ exec: { command: ['/bin/sh', '/drain.sh'] } })?.unknown).toMatch(/script file/);
    expect(readPreStop({ sleep: { seconds: 12 } })).toEqual({
      seconds: 12,
      onlySleeps: true,
      invalidSleeps: [],
    });
    expect(readPreStop({ httpGet: { path: '/drain', port: 8080 } })).toBeUndefined();
  });
});
