import type { RolloutReport } from './report-types.js';

// The report's figures must reconcile (docs/collector.md, "Counting rules"): each check below is
// one rule, and a violation names the figures that disagree. computeReport lists them in the
// report; a sound report has none.

const sum = (rec: Readonly<Record<string, number>>): number => Object.values(rec).reduce((a, b) => a + b, 0);

/** The rules a report breaks, one line each; empty when every figure reconciles. */
export function reportInvariantViolations(r: RolloutReport): string[] {
  const out: string[] = [];
  const check = (ok: boolean, rule: string): void => {
    if (!ok) out.push(rule);
  };
  const failed = r.probeRequests.failed;
  check(
    r.probeRequests.ok + failed === r.probeRequests.total,
    `ok + failed ≠ probe requests (${r.probeRequests.ok} + ${failed} ≠ ${r.probeRequests.total})`,
  );
  check(
    sum(r.failedByCause) === failed,
    `causes of failed requests sum to ${sum(r.failedByCause)}, not ${failed}`,
  );
  check(
    sum(r.failedByPhase) === failed,
    `failed requests by phase sum to ${sum(r.failedByPhase)}, not ${failed}`,
  );
  check(
    sum(r.clientErrors) === failed,
    `errors seen by clients sum to ${sum(r.clientErrors)}, not ${failed}`,
  );
  check(
    r.probeRequests.retriedOk <= failed,
    `more requests ok on retry (${r.probeRequests.retriedOk}) than failed (${failed})`,
  );
  check(
    sum(r.sessions.lostByCause) === r.sessions.lost,
    `causes of lost sessions sum to ${sum(r.sessions.lostByCause)}, not ${r.sessions.lost}`,
  );
  check(
    r.sessions.lost <= r.sessions.active,
    `more sessions lost (${r.sessions.lost}) than active (${r.sessions.active})`,
  );
  const b = r.baseline;
  check(sum(b.failedByCause) === b.failed, `baseline causes sum to ${sum(b.failedByCause)}, not ${b.failed}`);
  check(b.failed <= b.requests, `baseline failed (${b.failed}) > its requests (${b.requests})`);
  check(
    sum(b.sessionsLostByCause) === b.sessionsLost,
    `baseline session causes sum to ${sum(b.sessionsLostByCause)}, not ${b.sessionsLost}`,
  );
  const cut = r.failedByCause['cut-in-flight'] + r.failedByCause['killed-at-grace'];
  check(
    r.inFlightLost === cut,
    `in-flight requests lost (${r.inFlightLost}) ≠ cut-in-flight + killed-at-grace (${cut})`,
  );
  check(
    r.inFlightCut <= r.inFlightAtSigterm,
    `cut in flight (${r.inFlightCut}) > in flight at SIGTERM (${r.inFlightAtSigterm})`,
  );
  const probe = r.websocketOutcomes.probe;
  const dropped = probe['no-close-frame'] + probe['killed-at-grace'];
  check(
    dropped === r.websocketsDropped,
    `probe WebSockets without a close frame by outcome (${dropped}) ≠ dropped (${r.websocketsDropped})`,
  );
  check(
    sum(r.websocketOutcomes.atTermination) === sum(r.websocketCloses),
    `WebSocket outcomes at termination (${sum(r.websocketOutcomes.atTermination)}) ≠ closes by code (${sum(r.websocketCloses)})`,
  );
  check(
    r.latency.samples === r.probeRequests.total,
    `latency samples (${r.latency.samples}) ≠ probe requests (${r.probeRequests.total})`,
  );
  const byPod = r.terminations.reduce((a, t) => a + t.failedProbeRequests, 0);
  check(byPod <= failed, `failed requests of terminating pods (${byPod}) > failed requests (${failed})`);
  return out;
}
