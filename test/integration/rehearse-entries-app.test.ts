import { describe, expect, it } from 'vitest';
import { QUICK, runRehearseCli } from '../helpers/rehearse-cli.js';
import { writeMinimalApp } from '../helpers/rehearse-minimal-app.js';
import { uniqueTag } from '../helpers/servers.js';

// `rehearse --app` through the real nginx and HAProxy: any command, its own scenario, behind each
// balancer in turn. The minimal app drains gracefully, so nothing its drain could keep is lost;
// the only failures allowed are the balancer's own idle keep-alive closes (stale-keepalive).

describe('rehearse --app through real entry points', () => {
  it('a graceful app loses no session and nothing attributable to its drain, through nginx and HAProxy', async () => {
    const app = writeMinimalApp(uniqueTag());
    const r = await runRehearseCli(
      [
        ...QUICK,
        '--app',
        app.command,
        '--scenario',
        app.scenarioFile,
        '--ready-path',
        app.readyPath,
        '--replicas',
        '2',
        '--compare-entries',
        'nginx,haproxy',
        '--json',
      ],
      240_000,
    );
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(r.runs.map((run) => run.label)).toEqual(['app/nginx', 'app/haproxy']);
    for (const run of r.runs) {
      const kind = run.label.split('/')[1];
      const detail = `${run.label}: ${JSON.stringify(run.failedByCause)}`;
      expect(run.entry.entry).toBe(kind);
      expect(run.podsReplaced).toBe(2);
      // Two pods added at start, two surge pods added and two removed in the rollout.
      expect(run.entry.changes.filter((c) => c.type === 'remove')).toHaveLength(2);
      expect(run.sessions.lost).toBe(0);
      expect(run.sessionPersistence).toBe(1);
      expect(run.probeRequests.total).toBeGreaterThan(0);
      const byCause = Object.entries(run.failedByCause).filter(([, n]) => n > 0);
      expect(
        byCause.filter(([c]) => c !== 'stale-keepalive'),
        detail,
      ).toEqual([]);
      expect(run.probeRequests.failed, detail).toBe(run.failedByCause['stale-keepalive'] ?? 0);
      expect(run.probeRequests.failed, detail).toBeLessThanOrEqual(12 * run.entry.changes.length);
    }
  }, 260_000);
});
