import { STREAM_ENDS, type StreamEnd } from '../contract/index.js';
import { dataOf, zeroes } from './report-data.js';
import { type SessionTally, sessionCause } from './report-sessions.js';
import type { ReportFacts } from './report-types.js';

// What probes report besides requests: sessions lost, WebSockets dropped, messages lost, and
// their own run summaries (routing skew, stickiness).

export interface ProbeEventTally {
  /** Probe WebSockets that ended with 1006 (no close frame). */
  readonly websocketsDropped: number;
  /**
   * message-lost events plus the `missed` of message-gap events, else (when the probes sent
   * neither) the sum of their summaries' counts.
   */
  readonly messagesLost: number;
  /** message-resent events, else the sum of the summaries' counts. */
  readonly messagesResent: number;
  /** message-duplicate events, else the sum of the summaries' counts. */
  readonly messagesDuplicated: number;
  /** The probes' SSE streams that ended without the probe closing them, by how (stream-ended events). */
  readonly streamEnds: Readonly<Record<StreamEnd, number>>;
  /** The highest skew a probe summary reported; null when none did. */
  readonly summarySkew: number | null;
  readonly sticky: boolean;
  /** Why the run is inconclusive (a probe flagged itself overloaded), or null. */
  readonly inconclusive: string | null;
}

/** Tallies probe sessions, WebSockets and summaries; notes sessions seen and lost. */
export function tallyProbeEvents(facts: ReportFacts, sessions: SessionTally): ProbeEventTally {
  let websocketsDropped = 0;
  let lostEvents = 0;
  let lostInSummaries = 0;
  let resentEvents = 0;
  let resentInSummaries = 0;
  let lossEvents = 0;
  let duplicateEvents = 0;
  let duplicatesInSummaries = 0;
  const streamEnds = zeroes(STREAM_ENDS);
  let summarySkew: number | null = null;
  let sticky = false;
  let unreliableLagMs: number | null = null;
  for (const p of facts.probes) {
    const session = dataOf(p, 'probe.session');
    const ws = dataOf(p, 'probe.websocket');
    const summary = dataOf(p, 'probe.summary');
    if (session) {
      sessions.see(session.sessionId);
      if (session.event === 'lost') {
        const t = Date.parse(session.at);
        sessions.lose(
          session.sessionId,
          t,
          sessionCause(facts, session.sessionId, t, session.issuedBy, session.pod),
        );
      }
    } else if (ws) {
      sessions.see(ws.sessionId);
      const isWebSocket = (ws.transport ?? 'websocket') === 'websocket';
      if (isWebSocket && ws.event === 'closed' && (ws.code === 1006 || ws.code === undefined))
        websocketsDropped += 1;
      if (ws.event === 'message-lost') lostEvents += 1;
      if (ws.event === 'message-gap') lostEvents += ws.missed ?? 0;
      if (ws.event === 'message-lost' || ws.event === 'message-gap') lossEvents += 1;
      if (ws.event === 'message-duplicate') duplicateEvents += 1;
      if (ws.event === 'stream-ended' && ws.end) streamEnds[ws.end] += 1;
      if (ws.event === 'message-resent') resentEvents += 1;
      // A connection ended for a named cause (a Socket.IO poll refused as `Session ID unknown`)
      // lost its server-side session: the probe session is lost for that cause.
      if (ws.event === 'closed' && ws.cause) sessions.lose(ws.sessionId, Date.parse(ws.at), ws.cause);
    } else if (summary) {
      lostInSummaries += summary.messagesLost;
      resentInSummaries += summary.messagesResent ?? 0;
      duplicatesInSummaries += summary.messagesDuplicated ?? 0;
      if (summary.skewRatio !== null) summarySkew = Math.max(summarySkew ?? 0, summary.skewRatio);
      sticky ||= summary.sticky;
      if (summary.unreliable) unreliableLagMs = Math.max(unreliableLagMs ?? 0, summary.maxLoopLagMs);
    }
  }
  return {
    websocketsDropped,
    messagesLost: lossEvents > 0 ? lostEvents : lostInSummaries,
    messagesResent: resentEvents > 0 ? resentEvents : resentInSummaries,
    messagesDuplicated: duplicateEvents > 0 ? duplicateEvents : duplicatesInSummaries,
    streamEnds,
    summarySkew,
    sticky,
    inconclusive:
      unreliableLagMs === null
        ? null
        : `a probe was overloaded (event-loop lag up to ${Math.round(unreliableLagMs)} ms): its figures cannot judge the rollout`,
  };
}
