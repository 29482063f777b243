import { describe, expect, it } from 'vitest';
import { afterTopExit, execScript } from '../../cluster/local/container-process.js';
import { retryDecision, upstreamIdleMs } from '../../cluster/local/upstream.js';

describe('local pod command', () => {
  it('execs a lone command, after its leading assignments, so the app is the top process', () => {
    expect(execScript('node server.js')).toBe('exec node server.js');
    expect(execScript('FOO=1 BAR="a b" node "my app.js" > log')).toBe(
      'FOO=1 BAR="a b" exec node "my app.js" > log',
    );
    expect(execScript('exec node x')).toBe('exec node x');
  });

  it('leaves a command with shell operators to the shell, which then is the top process', () => {
    for (const c of [
      'cd app && node x',
      'node x; echo done',
      'a | b',
      'node x &',
      'if true; then node x; fi',
      '(node x)',
    ])
      expect(execScript(c)).toBe(c);
    // Operators inside quotes are words.
    expect(execScript(`node -e "a; b" 'c|d'`)).toBe(`exec node -e "a; b" 'c|d'`);
  });

  it('lets a group outlive a top process that died of the SIGTERM (PID 1 would have ignored it)', () => {
    expect(afterTopExit('SIGTERM', true)).toBe('wait');
    expect(afterTopExit(null, true)).toBe('kill');
    expect(afterTopExit('SIGTERM', false)).toBe('kill');
  });
});

describe('entry point upstream rules', () => {
  it('keeps idle connections nginx’s 60 s at most, and half the pod’s own timeout', () => {
    expect(upstreamIdleMs(5000)).toBe(2500);
    expect(upstreamIdleMs(3_600_000)).toBe(60_000);
    expect(upstreamIdleMs(undefined)).toBe(2500);
  });

  it('repeats refused connects elsewhere, and idempotent requests once after a stale connection', () => {
    const reset = Object.assign(new Error('reset'), { code: 'ECONNRESET' });
    const refused = Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
    const stale = { reusedSocket: true, method: 'GET', freshRetried: false };
    expect(retryDecision(refused, { ...stale, reusedSocket: false, method: 'POST' })).toBe('next-endpoint');
    expect(retryDecision(reset, stale)).toBe('fresh-connection');
    expect(retryDecision(reset, { ...stale, freshRetried: true })).toBe('fail');
    expect(retryDecision(reset, { ...stale, method: 'POST' })).toBe('fail');
    expect(retryDecision(reset, { ...stale, reusedSocket: false })).toBe('fail');
  });
});
