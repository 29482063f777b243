import { describe, expect, it } from 'vitest';
import { QUICK, runRehearseCli } from '../helpers/rehearse-cli.js';

interface Failure {
  readonly error: string | null;
  readonly cause: string;
  readonly pod: string | null;
  readonly status: number | null;
  readonly beforeRollout: boolean;
}

// The default comparison through the real nginx and HAProxy, side by side in one rehearsal: the
// naive example app loses users through either balancer; the drained one loses no session, and no
// request but the few the balancer closed on idle keep-alive connections (cause stale-keepalive).

describe('rehearse through real entry points', () => {
  it('the naive run fails and the drained run loses nothing the app could keep, through nginx and HAProxy', async () => {
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
        expect(run.sessionPersistence).toBe(1);
        const failures = ((run.report as { failures?: Failure[] } | undefined)?.failures ?? []).filter(
          (f) => !f.beforeRollout,
        );
        const detail = `${run.label}: ${JSON.stringify(failures)}`;
        // The only failures allowed are the entry's own: a request sent on a kept-alive connection
        // the entry closed while idle (nginx's reloads do; HAProxy did too, docs/rehearse.md), reset
        // before any response header and seen by no pod — cause stale-keepalive. Nothing the app's
        // drain could keep is lost; and each session holds one connection, which each endpoint
        // change closes at most once.
        for (const f of failures)
          expect(`${f.error} ${f.cause} ${f.pod} ${f.status}`, detail).toBe(
            'reset stale-keepalive null null',
          );
        const byCause = Object.entries(run.failedByCause).filter(([, n]) => n > 0);
        expect(
          byCause.filter(([c]) => c !== 'stale-keepalive'),
          detail,
        ).toEqual([]);
        expect(run.probeRequests.failed, detail).toBe(run.failedByCause['stale-keepalive'] ?? 0);
        expect(run.probeRequests.failed, detail).toBeLessThanOrEqual(12 * run.entry.changes.length);
      }
    }
  }, 500_000);
});
