import type { Phase, RequestOutcome } from '../contract/index.js';
import type { EventData } from '../contract/validate.js';
import type { RequestRecord, StreamFacts, WebSocketEnd, WebSocketRecord } from './traffic.js';

// The `request` and `websocket.closed` events the agent's traffic accounting publishes, built from
// a record and how it ended.

// The agent's events are not validated against the schemas (contract/event-builder.ts), so the
// numbers it takes from the wire are kept in the contract's ranges here: an HTTP status outside
// 100-599 or a close code outside 0-4999 (a peer may send either) is left out of the event, which
// would otherwise be published, refused by the collector and seen there as a seq gap.
function inRange(n: number | undefined, min: number, max: number): n is number {
  return n !== undefined && Number.isInteger(n) && n >= min && n <= max;
}

/** How a request ended, as its `request` event reports it. */
export interface RequestEnd {
  readonly outcome: RequestOutcome;
  readonly status: number | undefined;
  readonly late: boolean;
  readonly h2: StreamFacts | undefined;
  /** The pod's phase as it ended. */
  readonly endPhase: Phase;
  /** Clock time (ms) as it ended. */
  readonly now: number;
}

/** The `request` event of `record` (`requestId`: `idPrefix-seq`). */
export function requestEvent(record: RequestRecord, end: RequestEnd, idPrefix: string): EventData<'request'> {
  const { status, h2 } = end;
  return {
    requestId: `${idPrefix}-${record.seq}`,
    ...(record.probeId !== undefined ? { probeId: record.probeId } : {}),
    ...(record.healthCheck ? { healthCheck: true } : {}),
    method: record.method,
    route: record.route,
    arrivalPhase: record.arrivalPhase,
    endPhase: end.endPhase,
    outcome: end.outcome,
    ...(inRange(status, 100, 599) ? { status } : {}),
    durationMs: Math.max(0, end.now - record.startedAt),
    connection: record.connection,
    lateArrival: end.late,
    startedAt: new Date(record.startedAt).toISOString(),
    ...(record.protocol !== undefined ? { protocol: record.protocol } : {}),
    ...(h2 !== undefined && inRange(h2.grpcStatus, 0, 999) ? { grpcStatus: h2.grpcStatus } : {}),
    ...(h2 !== undefined && inRange(h2.rstCode, 0, 4294967295) ? { rstCode: h2.rstCode } : {}),
    ...(h2?.goaway !== undefined ? { goaway: h2.goaway } : {}),
  };
}

/** The `websocket.closed` event of `record`, closed in `closedPhase` at clock time `now` (ms). */
export function websocketClosedEvent(
  record: WebSocketRecord,
  end: WebSocketEnd,
  closedPhase: Phase,
  now: number,
): EventData<'websocket.closed'> {
  return {
    wsId: record.id,
    ...(record.probeId !== undefined ? { probeId: record.probeId } : {}),
    openedPhase: record.openedPhase,
    closedPhase,
    ...(inRange(end.code, 0, 4999) ? { code: end.code } : {}),
    closedBy: end.closedBy,
    closeFrame: end.closeFrame,
    durationMs: Math.max(0, now - record.openedAt),
    framesFromClient: end.framesFromClient,
    framesFromApp: end.framesFromApp,
  };
}
