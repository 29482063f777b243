import {
  type EventKind,
  type Phase,
  type RequestOutcome,
  type TcpClosedBy,
  websocketCloseKey,
} from '../contract/index.js';
import type { EventData, PhaseCounts } from '../contract/validate.js';
import { routeOf } from '../lib/route.js';
import { type AgentMetrics, statusClass } from './metrics.js';
import type { Clock } from './time.js';

// What the agent counts about the app's traffic, by pod phase. The proxy reports each request's
// beginning and end here; the lifecycle moves the phase; summaries are cut from these counters.

export type Emit = <K extends EventKind>(kind: K, data: EventData<K>) => void;

export interface RequestRecord {
  readonly seq: number;
  readonly method: string;
  readonly route: string;
  readonly probeId: string | undefined;
  /** A kubelet health or readiness check: counted apart, never in requests, failures or drain counts. */
  readonly healthCheck: boolean;
  readonly arrivalPhase: Phase;
  readonly startedAt: number;
  readonly connection: 'new' | 'reused';
  /** `h2`: an HTTP/2 stream. */
  readonly protocol: 'h2' | undefined;
  /** Set when the request was in flight as the phase became draining (the app got SIGTERM). */
  inFlightAtSigterm: boolean;
  done: boolean;
}

/** What an HTTP/2 stream's frames said of its end (grpc-status trailer, RST_STREAM code). */
export interface StreamFacts {
  readonly grpcStatus?: number;
  readonly rstCode?: number;
  /** Set for a stream its connection's close ended: whether a GOAWAY (the app's or the agent's) had gone to the client first. */
  readonly goaway?: boolean;
}

export interface WebSocketRecord {
  readonly id: string;
  readonly route: string;
  readonly probeId: string | undefined;
  readonly openedPhase: Phase;
  readonly openedAt: number;
  atSigterm: boolean;
}

export interface WebSocketEnd {
  readonly code: number | undefined;
  readonly closedBy: 'client' | 'app' | 'none';
  readonly closeFrame: boolean;
  readonly framesFromClient: number;
  readonly framesFromApp: number;
}

/** A connection tunnelled as TCP (not parsed): counted, never reported one by one. */
export interface TcpRecord {
  atSigterm: boolean;
  done: boolean;
}

export interface DrainCounts {
  readonly requestsTotal: number;
  readonly inFlightAtSigterm: number;
  readonly inFlightCompleted: number;
  readonly inFlightCut: number;
  readonly lateArrivals: number;
  readonly websocketsAtSigterm: number;
  readonly websocketCloses: Record<string, number>;
  /** Present once a connection was tunnelled as TCP: HTTP pods' drain summaries stay as they were. */
  readonly tcpAtSigterm?: number;
  readonly tcpCloses?: Partial<Record<TcpClosedBy, number>>;
}

/** What a traffic summary carries: user requests by phase at arrival, and health checks apart. */
export interface IntervalCounts {
  readonly requests: PhaseCounts;
  readonly failed: PhaseCounts;
  readonly lateArrivals: number;
  readonly healthChecks: number;
  readonly healthChecksFailed: number;
  /** Connections tunnelled as TCP (not parsed) in the interval. */
  readonly tcpOpened: number;
}

export interface Traffic {
  readonly phase: Phase;
  setPhase(phase: Phase): void;
  begin(input: {
    method: string;
    url: string;
    probeId: string | undefined;
    healthCheck?: boolean;
    reused: boolean;
    protocol?: 'h2';
    /**
     * false: counted in `arrivals` but does not restart the adaptive preStop's quiet window (a
     * stream on an HTTP/2 connection held open through the preStop: per-connection balancing
     * sends it whatever the endpoints say; the connection's opening was the arrival). Default true.
     */
    quietWindow?: boolean;
  }): RequestRecord;
  end(record: RequestRecord, outcome: RequestOutcome, status?: number, h2?: StreamFacts): void;
  websocketOpened(input: { url: string; probeId: string | undefined }): WebSocketRecord;
  websocketClosed(record: WebSocketRecord, end: WebSocketEnd): void;
  tcpOpened(): TcpRecord;
  tcpClosed(record: TcpRecord, closedBy: TcpClosedBy): void;
  readonly inFlight: number;
  /** Tunnelled TCP connections open now. */
  readonly tcpOpen: number;
  readonly websockets: number;
  /** Clock time of the last request or WebSocket arrival (the adaptive preStop's quiet window). */
  readonly lastArrivalAt: number;
  /** Requests and WebSockets that arrived so far (preStop's `requestsDuring` is a difference). */
  readonly arrivals: number;
  /** Counters since the previous call, for a traffic summary. */
  takeInterval(): IntervalCounts;
  drainCounts(): DrainCounts;
  totals(): { requests: PhaseCounts; failed: PhaseCounts; lateArrivals: number };
}

const zero = (): PhaseCounts => ({ serving: 0, prestop: 0, draining: 0, exited: 0 });

// The agent's events are not validated against the schemas (contract/event-builder.ts), so the
// numbers it takes from the wire are kept in the contract's ranges here: an HTTP status outside
// 100-599 or a close code outside 0-4999 (a peer may send either) is left out of the event, which
// would otherwise be published, refused by the collector and seen there as a seq gap.
function inRange(n: number | undefined, min: number, max: number): n is number {
  return n !== undefined && Number.isInteger(n) && n >= min && n <= max;
}

export function createTraffic(options: {
  clock: Clock;
  metrics: AgentMetrics;
  emit: Emit;
  idPrefix: string;
}): Traffic {
  const { clock, metrics, emit } = options;
  let phase: Phase = 'serving';
  let seq = 0;
  let wsSeq = 0;
  let lastArrivalAt = Number.NEGATIVE_INFINITY;
  const inFlight = new Set<RequestRecord>();
  const sockets = new Set<WebSocketRecord>();
  let arrivals = 0;
  const zeroInterval = () => ({
    requests: zero(),
    failed: zero(),
    lateArrivals: 0,
    healthChecks: 0,
    healthChecksFailed: 0,
    tcpOpened: 0,
  });
  let interval = zeroInterval();
  const total = { requests: zero(), failed: zero(), lateArrivals: 0 };
  let inFlightAtSigterm = 0;
  let inFlightCompleted = 0;
  let inFlightCut = 0;
  let websocketsAtSigterm = 0;
  const websocketCloses: Record<string, number> = {};
  const tcp = new Set<TcpRecord>();
  let tcpAtSigterm = 0;
  let tcpSeen = false;
  const tcpCloses: Partial<Record<TcpClosedBy, number>> = {};

  // prom-client hashes the labels on every inc(); the children are few (4 phases × 6 classes).
  const counters = new Map<string, ReturnType<AgentMetrics['requests']['labels']>>();
  const requestCounter = (phase: Phase, cls: string) => {
    const key = `${phase}|${cls}`;
    let c = counters.get(key);
    if (!c) {
      c = metrics.requests.labels({ phase, status_class: cls });
      counters.set(key, c);
    }
    return c;
  };

  const emitRequest = (
    record: RequestRecord,
    outcome: RequestOutcome,
    status: number | undefined,
    late: boolean,
    h2: StreamFacts | undefined,
  ): void => {
    emit('request', {
      requestId: `${options.idPrefix}-${record.seq}`,
      ...(record.probeId !== undefined ? { probeId: record.probeId } : {}),
      ...(record.healthCheck ? { healthCheck: true } : {}),
      method: record.method,
      route: record.route,
      arrivalPhase: record.arrivalPhase,
      endPhase: phase,
      outcome,
      ...(inRange(status, 100, 599) ? { status } : {}),
      durationMs: Math.max(0, clock.now() - record.startedAt),
      connection: record.connection,
      lateArrival: late,
      startedAt: new Date(record.startedAt).toISOString(),
      ...(record.protocol !== undefined ? { protocol: record.protocol } : {}),
      ...(h2 !== undefined && inRange(h2.grpcStatus, 0, 999) ? { grpcStatus: h2.grpcStatus } : {}),
      ...(h2 !== undefined && inRange(h2.rstCode, 0, 4294967295) ? { rstCode: h2.rstCode } : {}),
      ...(h2?.goaway !== undefined ? { goaway: h2.goaway } : {}),
    });
  };

  const arrive = (quietWindow = true): void => {
    if (quietWindow) lastArrivalAt = clock.now();
    arrivals += 1;
  };

  return {
    get phase() {
      return phase;
    },
    setPhase(next) {
      if (next === phase) return;
      phase = next;
      if (next === 'draining') {
        inFlightAtSigterm = 0;
        for (const r of inFlight) {
          if (r.healthCheck) continue;
          r.inFlightAtSigterm = true;
          inFlightAtSigterm += 1;
        }
        for (const w of sockets) w.atSigterm = true;
        for (const t of tcp) t.atSigterm = true;
        websocketsAtSigterm = sockets.size;
        tcpAtSigterm = tcp.size;
      }
    },
    begin({ method, url, probeId, healthCheck = false, reused, protocol, quietWindow }) {
      arrive(quietWindow);
      seq += 1;
      const record: RequestRecord = {
        seq,
        method: method.length > 16 ? method.slice(0, 16) : method,
        route: routeOf(url),
        probeId,
        healthCheck,
        arrivalPhase: phase,
        startedAt: clock.now(),
        connection: reused ? 'reused' : 'new',
        protocol,
        inFlightAtSigterm: false,
        done: false,
      };
      inFlight.add(record);
      metrics.inFlight.set(inFlight.size);
      return record;
    },
    end(record, outcome, status, h2) {
      if (record.done) return;
      record.done = true;
      inFlight.delete(record);
      metrics.inFlight.set(inFlight.size);
      const failed = outcome !== 'ok';
      if (record.healthCheck) {
        // A kubelet check of a booting or draining app fails by design: it is no user's failure.
        interval.healthChecks += 1;
        if (failed) interval.healthChecksFailed += 1;
        if (failed || record.arrivalPhase !== phase) emitRequest(record, outcome, status, false, h2);
        return;
      }
      const late = record.arrivalPhase !== 'serving' && outcome === 'upstream-refused';
      const arrival = record.arrivalPhase;
      interval.requests[arrival] += 1;
      total.requests[arrival] += 1;
      if (failed) {
        interval.failed[arrival] += 1;
        total.failed[arrival] += 1;
      }
      if (late) {
        interval.lateArrivals += 1;
        total.lateArrivals += 1;
      }
      if (record.inFlightAtSigterm) {
        if (failed) inFlightCut += 1;
        else inFlightCompleted += 1;
      }
      requestCounter(arrival, statusClass(status)).inc();
      if (record.protocol === 'h2') metrics.h2Streams.labels({ phase: arrival, outcome }).inc();
      if (record.probeId !== undefined || failed || record.arrivalPhase !== phase) {
        emitRequest(record, outcome, status, late, h2);
      }
    },
    websocketOpened({ url, probeId }) {
      arrive();
      wsSeq += 1;
      const record: WebSocketRecord = {
        id: `${options.idPrefix}-ws${wsSeq}`,
        route: routeOf(url),
        probeId,
        openedPhase: phase,
        openedAt: clock.now(),
        atSigterm: false,
      };
      sockets.add(record);
      metrics.websockets.set(sockets.size);
      emit('websocket.opened', {
        wsId: record.id,
        ...(probeId !== undefined ? { probeId } : {}),
        route: record.route,
        phase,
      });
      return record;
    },
    websocketClosed(record, end) {
      if (!sockets.delete(record)) return;
      metrics.websockets.set(sockets.size);
      const key = websocketCloseKey(end);
      websocketCloses[key] = (websocketCloses[key] ?? 0) + 1;
      emit('websocket.closed', {
        wsId: record.id,
        ...(record.probeId !== undefined ? { probeId: record.probeId } : {}),
        openedPhase: record.openedPhase,
        closedPhase: phase,
        ...(inRange(end.code, 0, 4999) ? { code: end.code } : {}),
        closedBy: end.closedBy,
        closeFrame: end.closeFrame,
        durationMs: Math.max(0, clock.now() - record.openedAt),
        framesFromClient: end.framesFromClient,
        framesFromApp: end.framesFromApp,
      });
    },
    tcpOpened() {
      // A tunnelled connection is an arrival too: the adaptive preStop waits for quiet on it.
      arrive();
      tcpSeen = true;
      interval.tcpOpened += 1;
      const record: TcpRecord = { atSigterm: false, done: false };
      tcp.add(record);
      metrics.tcpOpen.set(tcp.size);
      return record;
    },
    tcpClosed(record, closedBy) {
      if (record.done) return;
      record.done = true;
      tcp.delete(record);
      metrics.tcpOpen.set(tcp.size);
      metrics.tcpClosed.labels({ closed_by: closedBy, phase }).inc();
      tcpCloses[closedBy] = (tcpCloses[closedBy] ?? 0) + 1;
    },
    get inFlight() {
      return inFlight.size;
    },
    get tcpOpen() {
      return tcp.size;
    },
    get websockets() {
      return sockets.size;
    },
    get lastArrivalAt() {
      return lastArrivalAt;
    },
    get arrivals() {
      return arrivals;
    },
    takeInterval() {
      const out = interval;
      interval = zeroInterval();
      return out;
    },
    drainCounts() {
      return {
        requestsTotal: Object.values(total.requests).reduce((a, b) => a + b, 0),
        inFlightAtSigterm,
        inFlightCompleted,
        inFlightCut,
        lateArrivals: total.lateArrivals,
        websocketsAtSigterm,
        websocketCloses: { ...websocketCloses },
        ...(tcpSeen ? { tcpAtSigterm, tcpCloses: { ...tcpCloses } } : {}),
      };
    },
    totals() {
      return {
        requests: { ...total.requests },
        failed: { ...total.failed },
        lateArrivals: total.lateArrivals,
      };
    },
  };
}
