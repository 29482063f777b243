import type { RehearsalRun } from './result.js';

// The side-by-side table: one column per run, one row per figure, so the naive and the
// drained run read across.

function pct(v: number | null, digits = 1): string {
  return v === null ? 'n/a' : `${v.toFixed(digits)}%`;
}

function ratio(v: number | null): string {
  return v === null ? 'n/a' : `${(v * 100).toFixed(1)}%`;
}

function counts(rec: Readonly<Record<string, number>>, sep = ' '): string {
  const parts = Object.entries(rec)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k}×${n}`);
  return parts.length ? parts.join(sep) : '-';
}

function skew(v: number | null): string {
  return v === null ? 'n/a' : `${v.toFixed(1)}:1`;
}

function seconds(v: number | null): string {
  return v === null ? 'n/a' : `${v.toFixed(1)} s`;
}

function ms(v: number | null): string {
  return v === null ? 'n/a' : v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;
}

/** Failed requests and lost sessions before the first pod terminated, with their causes. */
function baseline(r: RehearsalRun): string {
  const b = r.baseline;
  const requests = `${b.failed} of ${b.requests} requests${b.failed ? ` (${counts(b.failedByCause, ', ')})` : ''}`;
  const sessions = `${b.sessionsLost} sessions lost${b.sessionsLost ? ` (${counts(b.sessionsLostByCause, ', ')})` : ''}`;
  return `${requests}; ${sessions}`;
}

/** The entry point's endpoint changes: how many, and how long applying them took once due. */
function changesApplied(r: RehearsalRun): string {
  const e = r.entry;
  if (e.entry === 'local') return 'at once (no reload)';
  if (e.changes.length === 0) return 'none';
  return `${e.changes.length}; p50 ${ms(e.applyP50Ms)}, max ${ms(e.applyMaxMs)}`;
}

function gate(r: RehearsalRun): string {
  if (!r.gate) return '-';
  const verdict = r.gate.inconclusive !== undefined ? 'INCONCLUSIVE' : r.gate.passed ? 'PASS' : 'FAIL';
  return `${verdict} (≥ ${ratio(r.gate.threshold)})`;
}

export const TABLE_ROWS: ReadonlyArray<readonly [string, (r: RehearsalRun) => string]> = [
  ['app', (r) => r.settings.app],
  ['preStop', (r) => r.settings.prestop],
  ['balance / propagation', (r) => `${r.settings.balance} / ${r.settings.propagation}`],
  ['entry point', (r) => r.entry.version],
  ['pods replaced', (r) => String(r.podsReplaced)],
  ['rollout duration', (r) => seconds(r.durationSeconds)],
  ['probe requests', (r) => String(r.probeRequests.total)],
  ['failed before the rollout', (r) => baseline(r)],
  ['failed requests', (r) => String(r.probeRequests.failed)],
  ['failure %', (r) => pct(r.failurePct, 2)],
  ['session persistence', (r) => ratio(r.sessionPersistence)],
  ['sessions lost', (r) => `${r.sessions.lost} of ${r.sessions.active}`],
  ['in-flight requests lost', (r) => String(r.inFlightLost)],
  ['cut in flight (all traffic)', (r) => String(r.inFlightCutAllTraffic)],
  ['health checks (not failures)', (r) => `${r.healthChecks.requests} (${r.healthChecks.failed} failed)`],
  ['late arrivals', (r) => String(r.lateArrivals)],
  ['WebSocket closes', (r) => counts(r.websocketCloses)],
  ['WebSocket outcomes', (r) => counts(r.websocketOutcomes, ', ')],
  ['messages lost', (r) => String(r.messagesLost)],
  ['messages re-sent', (r) => String(r.messagesResent)],
  ['clean terminations', (r) => ratio(r.cleanTerminations)],
  ['traffic skew (before rollout)', (r) => skew(r.steadySkew)],
  ['traffic skew (during rollout, by rate)', (r) => skew(r.trafficSkew)],
  ['sticky routing', (r) => (r.stickyRouting ? 'yes' : 'no')],
  [
    'probe latency p50 / p95 / p99',
    (r) => `${ms(r.latency.p50Ms)} / ${ms(r.latency.p95Ms)} / ${ms(r.latency.p99Ms)}`,
  ],
  ['preStop p50', (r) => ms(r.prestopP50Ms)],
  ['propagation max', (r) => ms(r.propagationMaxMs)],
  ['endpoint changes applied', (r) => changesApplied(r)],
  ['entry retries', (r) => `${r.entry.retries} (${r.entry.retriedElsewhere} to another pod)`],
  ['entry upstream errors', (r) => counts(r.entry.upstreamErrors, ', ')],
  ['causes of failed requests', (r) => counts(r.failedByCause, ', ')],
  ['causes of lost sessions', (r) => counts(r.sessionsLostByCause, ', ')],
  ['gate', (r) => gate(r)],
];

type Row = readonly [string, (r: RehearsalRun) => string];

function skewAfter(r: RehearsalRun): string {
  const g = r.grpc;
  if (!g) return 'n/a';
  if (g.skewAfterRollout !== null) return skew(g.skewAfterRollout);
  return `all calls on ${g.podsAnsweringAfterRollout} of ${g.podsAfterRollout} pods`;
}

/** The gRPC rows (`rehearse --protocol grpc`, docs/grpc.md), in place of the WebSocket ones. */
export const GRPC_ROWS: readonly Row[] = [
  ['gRPC calls', (r) => String(r.grpc?.calls ?? 0)],
  ['UNAVAILABLE', (r) => String(r.grpc?.unavailable ?? 0)],
  ['failed calls by status', (r) => counts(r.grpc?.failedByStatus ?? {}, ', ')],
  ['calls retried (ok)', (r) => `${r.grpc?.retried ?? 0} (${r.grpc?.retriedOk ?? 0})`],
  ['streams cut', (r) => String(r.grpc?.streamsCut ?? 0)],
  ['causes of cut streams', (r) => counts(r.grpc?.streamsCutByCause ?? {}, ', ')],
  ['streams drained (resumed)', (r) => String(r.grpc?.streamsDrained ?? 0)],
  ['stream messages lost', (r) => String(r.messagesLost)],
  ['skew after the rollout (calls)', (r) => skewAfter(r)],
];

const HTTP_ONLY = new Set([
  'WebSocket closes',
  'WebSocket outcomes',
  'messages lost',
  'messages re-sent',
  'sticky routing',
  'entry retries',
]);

/** The table's rows for these runs: the gRPC ones replace WebSockets' when the runs spoke gRPC. */
export function rowsFor(runs: readonly RehearsalRun[]): readonly Row[] {
  if (!runs.some((r) => r.grpc)) return TABLE_ROWS;
  const at = TABLE_ROWS.findIndex(([l]) => l === 'late arrivals') + 1;
  const keep = (rows: readonly Row[]) => rows.filter(([l]) => !HTTP_ONLY.has(l));
  return [...keep(TABLE_ROWS.slice(0, at)), ...GRPC_ROWS, ...keep(TABLE_ROWS.slice(at))];
}

/** Renders the runs as columns; long cells wrap onto continuation lines at `cellWidth`. */
export function formatComparison(runs: readonly RehearsalRun[], cellWidth = 40): string {
  const rows = rowsFor(runs);
  const labelWidth = Math.max(...rows.map(([l]) => l.length));
  const wrap = (text: string): string[] => {
    const out: string[] = [];
    let line = '';
    for (const word of text.split(' ')) {
      if (line && line.length + 1 + word.length > cellWidth) {
        out.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    out.push(line);
    return out;
  };
  const widths = runs.map((r) =>
    Math.min(cellWidth, Math.max(r.label.length, ...rows.map(([, f]) => f(r).length))),
  );
  const row = (label: string, cells: string[][]): string[] => {
    const height = Math.max(...cells.map((c) => c.length));
    const lines: string[] = [];
    for (let i = 0; i < height; i++) {
      const cols = cells.map((c, j) => (c[i] ?? '').padEnd(widths[j]!));
      lines.push(`${(i === 0 ? label : '').padEnd(labelWidth)}  ${cols.join('  ')}`.trimEnd());
    }
    return lines;
  };
  const lines = [
    ...row(
      '',
      runs.map((r) => [r.label]),
    ),
    `${'-'.repeat(labelWidth)}  ${widths.map((w) => '-'.repeat(w)).join('  ')}`,
  ];
  for (const [label, f] of rows)
    lines.push(
      ...row(
        label,
        runs.map((r) => wrap(f(r))),
      ),
    );
  for (const r of runs) {
    if (r.inconclusive) lines.push(`INCONCLUSIVE (${r.label}): ${r.inconclusive}`);
    else if (r.unreliable) lines.push(`note (${r.label}): ${r.unreliable}`);
    for (const reason of r.gate?.reasons ?? []) lines.push(`gate (${r.label}): ${reason}`);
    if ((r.websocketOutcomes['normal-close-at-shutdown'] ?? 0) > 0)
      lines.push(
        `advice (${r.label}): WebSockets closed with 1000 at shutdown, which clients read as "done, do not reconnect"; close with 1001 or 1012`,
      );
  }
  return `${lines.join('\n')}\n`;
}
