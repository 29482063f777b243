import { describe, expect, it } from 'vitest';
import { QUICK, runRehearseCli } from '../helpers/rehearse-cli.js';

// The default comparison through the real nginx and HAProxy, side by side in one rehearsal: the
// naive example app loses users through either balancer, the drained one loses nothing.

describe('rehearse through real entry points', () => {
  it('the naive run fails and the drained run loses nothing, through nginx and through HAProxy', async () => {
    const r = await runRehearseCli([...QUICK, '--compare-entries', 'nginx,haproxy', '--json'], 480_000);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(r.runs.map((run) => run.label)).toEqual([
      'naive/nginx',
      'naive/haproxy',
      'drained/nginx',
      'drained/haproxy',
    ]);
    for (const run of r.runs) {
      const kind = run.label.split('/')[1];
      expect(run.settings.entry).toBe(kind);
      expect(run.entry.entry).toBe(kind);
      expect(run.entry.version).toMatch(kind === 'nginx' ? /^nginx\// : /^HAProxy /);
      // Three pods added at start, three surge pods added and three removed in the rollout.
      expect(run.entry.changes.filter((c) => c.type === 'remove')).toHaveLength(3);
      expect(run.entry.applyMaxMs).not.toBeNull();
      expect(run.podsReplaced).toBe(3);
      if (run.label.startsWith('naive')) {
        expect(run.probeRequests.failed).toBeGreaterThan(0);
        expect(run.sessions.lost).toBeGreaterThan(0);
      } else {
        expect(run.probeRequests.failed, JSON.stringify(run.failedByCause)).toBe(0);
        expect(run.sessionPersistence).toBe(1);
      }
    }
  }, 500_000);
});
