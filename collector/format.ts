import { hasVerdict } from './report-terminations.js';
import type { Distribution, LatencyDistribution, RolloutReport } from './report-types.js';

// The terminal form of a report: aligned label/value rows, one section per topic, no colour codes
// (CI logs keep them as garbage).

function pct(v: number | null): string {
  return v === null ? 'n/a (nothing observed)' : `${(v * 100).toFixed(2)}%`;
}

/** ", N without a verdict" when some terminations lost their closing events. */
function noVerdict(r: RolloutReport): string {
  const n = r.terminations.filter((t) => !hasVerdict(t)).length;
  return n === 0 ? '' : `, ${n} without a verdict: evidence incomplete`;
}

function ms(v: number | null): string {
  return v === null ? '-' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`;
}

function dist(d: Distribution): string {
  return d.samples === 0 ? '-' : `p50 ${ms(d.p50Ms)}, max ${ms(d.maxMs)} (${d.samples})`;
}

/** Latency to the millisecond's tenth: probe requests on loopback take a few ms. */
function latencyMs(v: number | null): string {
  return v === null ? '-' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(1)} ms`;
}

function latency(d: LatencyDistribution): string {
  if (d.samples === 0) return '-';
  return `p50 ${latencyMs(d.p50Ms)}, p95 ${latencyMs(d.p95Ms)}, p99 ${latencyMs(d.p99Ms)}, max ${latencyMs(d.maxMs)} (${d.samples})`;
}

function counts(rec: Readonly<Record<string, number>>): string {
  const parts = Object.entries(rec)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

function table(rows: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
}

/** A readable multi-line table of one rollout report. */
export function formatReportText(report: RolloutReport): string {
  const r = report;
  const lines: string[] = [];
  lines.push(`Rollout ${r.rolloutId} — ${r.namespace}/${r.workload} (${r.trigger}, ${r.outcome})`);
  lines.push(
    ...table([
      ['started', r.startedAt],
      ['finished', r.finishedAt ?? '(open)'],
      ['duration', r.durationSeconds === null ? '-' : `${r.durationSeconds.toFixed(1)} s`],
      ['pods replaced', String(r.podsReplaced)],
    ]),
  );
  lines.push('', 'Scores');
  lines.push(
    ...table([
      [
        'session persistence',
        `${pct(r.scores.sessionPersistence)}  (${r.sessions.active - r.sessions.lost}/${r.sessions.active} sessions kept)`,
      ],
      [
        'request success',
        `${pct(r.scores.requestSuccess)}  (${r.probeRequests.ok}/${r.probeRequests.total} probe requests, ${r.probeRequests.retriedOk} more ok on retry)`,
      ],
      [
        'clean terminations',
        `${pct(r.scores.cleanTerminations)}  (${r.terminations.filter((t) => t.clean).length}/${r.terminations.filter(hasVerdict).length}${noVerdict(r)})`,
      ],
    ]),
  );
  const b = r.baseline;
  lines.push(
    '',
    `Before the rollout (until the first pod terminated${b.rolloutBeganAt ? `, ${b.rolloutBeganAt}` : ''})`,
  );
  lines.push(
    ...table([
      [
        'failed requests',
        `${b.failed} of ${b.requests}${b.failed > 0 ? `: ${counts(b.failedByCause)}` : ''}`,
      ],
      ['sessions lost', `${b.sessionsLost}${b.sessionsLost > 0 ? `: ${counts(b.sessionsLostByCause)}` : ''}`],
    ]),
  );
  lines.push('', 'Failures during the rollout (each failed request counted once)');
  lines.push(
    ...table([
      ['failed requests', String(r.probeRequests.failed)],
      ['by cause', counts(r.failedByCause)],
      ['by pod phase', counts(r.failedByPhase)],
      ['seen by clients', counts(r.clientErrors)],
      ['sessions lost by cause', counts(r.sessions.lostByCause)],
      ['in-flight requests lost', `${r.inFlightLost} (probe requests cut by an exit or reset)`],
      ['in flight at SIGTERM', `${r.inFlightAtSigterm} (all traffic, agents), ${r.inFlightCut} of them cut`],
      ['late arrivals', String(r.lateArrivals)],
      ['agent-side failed', counts(r.agentFailedRequests)],
      [
        'health checks',
        `${r.healthChecks.requests} (${r.healthChecks.failed} failed; not counted as failures)`,
      ],
    ]),
  );
  lines.push('', 'Timing and connections');
  lines.push(
    ...table([
      ['probe latency', latency(r.latency)],
      ['endpoint propagation', dist(r.endpointPropagation)],
      [
        'preStop',
        `${dist(r.prestop)}${Object.keys(r.prestop.byReason).length ? `; ended by ${counts(r.prestop.byReason)}` : ''}`,
      ],
      ['drain', dist(r.drain)],
      ['WebSocket closes', counts(r.websocketCloses)],
      ['WebSockets at termination', counts(r.websocketOutcomes.atTermination)],
      ['probe WebSockets', counts(r.websocketOutcomes.probe)],
      ['WebSockets dropped', String(r.websocketsDropped)],
      ['messages lost', String(r.messagesLost)],
      ['messages re-sent', String(r.messagesResent)],
      ['messages duplicated', String(r.messagesDuplicated)],
      ['SSE/gRPC streams ended', counts(r.streamEnds)],
      ['  at pod terminations', counts(r.streamEndsAtTermination)],
      ['messages lost at terminations', String(r.messagesLostAtTermination)],
      ['traffic skew (rate)', r.trafficSkew === null ? '-' : `${r.trafficSkew.toFixed(2)}x`],
      ['sticky routing', r.stickyRouting ? 'detected' : 'no'],
    ]),
  );
  if (r.terminations.length > 0) {
    lines.push('', 'Pods');
    const head = ['pod', 'result', 'preStop', 'drain', 'cut', 'failed', 'ws closes'];
    const rows = r.terminations.map((t) => [
      t.pod + (t.evidenceIncomplete ? ' *' : ''),
      t.clean ? 'clean' : t.uncleanReasons.join('+'),
      ms(t.prestopMs),
      ms(t.drainMs),
      String(t.inFlightCut),
      String(t.failedProbeRequests),
      counts(t.websocketCloses),
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
    const fmt = (row: readonly string[]) =>
      `  ${row.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd();
    lines.push(fmt(head), ...rows.map(fmt));
  }
  if (r.evidenceIncomplete.length > 0) {
    lines.push('', `* evidence incomplete (events missing) for: ${r.evidenceIncomplete.join(', ')}`);
  }
  if (
    r.websocketOutcomes.atTermination['normal-close-at-shutdown'] +
      r.websocketOutcomes.probe['normal-close-at-shutdown'] >
    0
  ) {
    lines.push(
      '',
      'advice: WebSockets closed with 1000 at shutdown; clients read 1000 as "done, do not reconnect". Close with 1001 (going away) or 1012 (restart).',
    );
  }
  if (r.inconclusive) lines.push('', `INCONCLUSIVE: ${r.inconclusive}`);
  for (const v of r.invariantViolations) lines.push(`figures do not reconcile: ${v}`);
  if (r.gate) {
    const g = r.gate;
    const verdict = g.inconclusive ? 'INCONCLUSIVE' : g.passed ? 'PASSED' : 'FAILED';
    const cmp = g.value !== null && g.value >= g.threshold ? '>=' : '<';
    lines.push('', `Gate: session persistence ${pct(g.value)} ${cmp} ${pct(g.threshold)} — ${verdict}`);
    for (const reason of g.reasons ?? []) lines.push(`  ${reason}`);
  }
  return `${lines.join('\n')}\n`;
}
