import { describe, expect, it } from 'vitest';
import { QUICK, type RehearseCliResult, runRehearseCli } from '../helpers/rehearse-cli.js';
import { writeMinimalApp } from '../helpers/rehearse-minimal-app.js';
import { uniqueTag } from '../helpers/servers.js';

// `drainwatch rehearse` end to end: embedded nats-server and redis-server, real agents in front
// of real app processes, probes through the entry point, the collector's report.

const FLAW_CAUSES = new Set([
  'never-reached-pod',
  'late-arrival',
  'cut-in-flight',
  'no-close-frame',
  'session-in-memory',
]);

function explain(r: RehearseCliResult): string {
  return `exit ${r.code}\nstderr:\n${r.stderr.slice(-3000)}\nstdout:\n${r.stdout.slice(0, 3000)}`;
}

describe('drainwatch rehearse', () => {
  it('with no app: the naive run loses sessions and requests to its flaws, the drained run loses nothing', async () => {
    const r = await runRehearseCli([...QUICK, '--json', '--gate', '1']);
    // Issue #15 point 10: a run whose probe was overloaded (this machine under load) is
    // inconclusive: exit 4, and its gate never passes. It used to pass with exit 0.
    const inconclusive = r.runs[1]?.inconclusive ?? null;
    expect(r.code, explain(r)).toBe(inconclusive ? 4 : 0);
    const [naive, drained] = r.runs;
    expect(naive?.label).toBe('naive');
    expect(drained?.label).toBe('drained');

    expect(naive!.podsReplaced).toBe(3);
    expect(naive!.sessionPersistence!).toBeLessThan(1);
    expect(naive!.probeRequests.failed).toBeGreaterThan(0);
    // Every failure is put down to a cause, and each cause is one of the naive app's flaws:
    // memory sessions, no graceful shutdown, no preStop wait, WebSockets dropped without a frame.
    const causes = Object.entries(naive!.failedByCause).filter(([, n]) => n > 0);
    expect(causes.length).toBeGreaterThan(0);
    // An overloaded run's figures are inconclusive (issue #15): its unexplained failures (`other`,
    // a probe that timed out on a starved machine) are not the app's flaws, so only a conclusive
    // run is held to the flaw list.
    if (!naive!.inconclusive)
      for (const [cause] of causes) expect(FLAW_CAUSES, `cause ${cause}`).toContain(cause);
    expect(naive!.sessionsLostByCause['session-in-memory']).toBeGreaterThan(0);
    // Its pods die with WebSocket messages unacknowledged (acks batched, never flushed): each is
    // lost, whatever its re-send after the reconnect brought.
    expect(naive!.messagesLost).toBeGreaterThan(0);
    expect(naive!.gate).toBeUndefined();

    expect(drained!.podsReplaced).toBe(3);
    expect(drained!.sessionPersistence).toBe(1);
    expect(drained!.probeRequests.failed).toBe(0);
    expect(drained!.probeRequests.total).toBeGreaterThan(0);
    expect(drained!.gate).toMatchObject(
      inconclusive ? { passed: false, threshold: 1, inconclusive } : { passed: true, threshold: 1 },
    );
  }, 300_000);

  it('prints the side-by-side table and exits 1 when the gate fails', async () => {
    const r = await runRehearseCli([...QUICK, '--variants', 'naive', '--replicas', '2', '--gate', '0.99']);
    expect(r.code, explain(r)).toBe(1);
    for (const row of [
      'failed requests',
      'failure %',
      'sessions lost',
      'in-flight requests lost',
      'WebSocket closes',
      'messages lost',
      'rollout duration',
      'causes of failed requests',
      'gate',
    ])
      expect(r.stdout).toMatch(new RegExp(`^${row}\\s`, 'm'));
    expect(r.stdout).toMatch(/^gate\s+FAIL/m);
    // The progress went to stderr, the table alone to stdout.
    expect(r.stderr).toMatch(/\[naive\].*pods replaced/);
  }, 200_000);

  it('rehearses any app given with --app, with its own scenario', async () => {
    const app = writeMinimalApp(uniqueTag());
    const r = await runRehearseCli([
      ...QUICK,
      '--app',
      app.command,
      '--scenario',
      app.scenarioFile,
      '--ready-path',
      app.readyPath,
      '--replicas',
      '2',
      '--json',
      '--gate',
      '100%',
      ...['--threshold', 'failedByCause.cut-in-flight == 0', '--threshold', 'latency.samples >= 1'],
    ]);
    expect(r.code, explain(r)).toBe(0);
    const [run] = r.runs;
    expect(run?.settings.app).toBe(app.command);
    // The thresholds judged this run's report: the latency samples are its probe requests.
    expect(run!.thresholds).toMatchObject({ passed: true });
    expect(run!.thresholds!.results.map((t) => t.value)).toEqual([0, run!.probeRequests.total]);
    expect(run!.podsReplaced).toBe(2);
    expect(run!.probeRequests.total).toBeGreaterThan(0);
    expect(run!.probeRequests.failed).toBe(0);
    expect(run!.sessionPersistence).toBe(1);
  }, 200_000);

  it('an unknown threshold name exits 2 listing the valid names, before any server starts', async () => {
    const r = await runRehearseCli(['--threshold', 'latency.p98 < 250ms']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown figure "latency.p98" of the rollout report');
    expect(r.stderr).toContain('latency.{samples,p50Ms,p95Ms,p99Ms,maxMs}');
    expect(r.stderr).not.toContain('started');
  });

  it('a bad option exits 2 with one line naming it', async () => {
    const r = await runRehearseCli(['--balance', 'random']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('balance');
  });
});
