import type { ProbeSnapshot, ProbeSummary } from './types.js';

// Human-readable renderings of a run: the live progress line and the end-of-run table.

function kinds(map: Readonly<Record<string, number | undefined>>): string {
  const parts = Object.entries(map)
    .filter(([, v]) => v)
    .sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0))
    .map(([k, v]) => `${k} ${v}`);
  return parts.length ? parts.join(', ') : 'none';
}

const ratio = (r: number | null): string => (r === null ? '-' : r.toFixed(2));

export function formatProgress(s: ProbeSnapshot): string {
  const ws = s.websockets;
  const parts = [
    `${Math.round(s.elapsedMs / 1000)}s`,
    `sessions ${s.sessionsOk} ok / ${s.sessionsLost} lost of ${s.sessionsStarted}`,
    `${s.requestsPerSecond.toFixed(0)} req/s`,
    `errors: ${kinds(s.errorsByKind)}`,
  ];
  if (ws.sessions > 0) parts.push(`ws ${ws.open} open, ${ws.messagesLost} msgs lost`);
  parts.push(`lag ${s.loopLagMs} ms${s.ramping ? ' (ramping)' : ''}`);
  if (s.unreliable) parts.push(`UNRELIABLE (probe lag max ${s.maxLoopLagMs} ms)`);
  return parts.join(' | ');
}

const ms = (v: number | null): string => (v === null ? '-' : `${Number(v.toFixed(1))} ms`);

function latency(l: ProbeSummary['latency']): string {
  if (l.samples === 0) return '-';
  return `p50 ${ms(l.p50Ms)}, p95 ${ms(l.p95Ms)}, p99 ${ms(l.p99Ms)}, max ${ms(l.maxMs)} (${l.samples})`;
}

const pct = (v: number | null): string => (v === null ? '-' : `${(v * 100).toFixed(2)}%`);

export function formatSummary(s: ProbeSummary): string {
  const ws = s.websockets;
  const rows: [string, string][] = [
    ['run', `${s.runId} → ${s.target} (${(s.elapsedMs / 1000).toFixed(1)} s)`],
    [
      'sessions',
      `${s.sessionsStarted} started of ${s.sessions}, ${s.sessionsOk} never lost, ${s.sessionsLost} lost`,
    ],
    ['session persistence', pct(s.sessionPersistence)],
    ['losses', `${s.losses} (${kinds(s.lossesByReason)})`],
    ['requests', `${s.requests}, ${s.failed} failed raw, ${s.retriedOk}/${s.retried} retries ok`],
    ['request success (raw)', pct(s.requestSuccess)],
    ['latency', latency(s.latency)],
    ['errors by kind', kinds(s.errorsByKind)],
    ['connections', `${s.connections.new} new, ${s.connections.reused} reused`],
    ['requests per pod', kinds(s.perPod)],
    ['skew (busiest ÷ quietest)', `peak window ${ratio(s.maxSkewRatio)}, whole run ${ratio(s.runSkewRatio)}`],
    ['sticky routing', s.sticky ? `yes: ${s.stickyReason}` : 'not detected'],
  ];
  if (ws.sessions > 0) {
    rows.push(
      [
        'websockets',
        `${ws.sessions} sessions, ${ws.connections} connections, ${ws.connectFailures} failed handshakes`,
      ],
      [
        'ws messages',
        `${ws.messagesSent} sent, ${ws.messagesAcked} acked, ${ws.messagesLost} lost, ${ws.resent} re-sent`,
      ],
      ['ws closes by code', kinds(ws.closesByCode)],
    );
  }
  rows.push(
    [
      'probe event-loop lag',
      `max ${s.maxLoopLagMs} ms after the ramp, ${s.rampMaxLoopLagMs} ms while ramping`,
    ],
    ['reliable', s.unreliable ? `NO: ${s.unreliableReason}` : 'yes'],
    ['events', `${s.eventsPublished} published, ${s.eventsDropped} dropped`],
  );
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}
