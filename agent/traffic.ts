import type { EventKind, Phase, RequestOutcome, TcpClosedBy } from '../contract/index.js';
import type { EventData, PhaseCounts } from '../contract/validate.js';
import type { AgentMetrics } from './metrics.js';
import type { Clock } from './time.js';
import { TrafficLedger } from './traffic-ledger.js';

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

/**
 * The agent's traffic accounting (the counting itself: traffic-ledger.ts). Events go out through
 * `emit`; `idPrefix` prefixes every requestId and wsId.
 */
export function createTraffic(options: {
  clock: Clock;
  metrics: AgentMetrics;
  emit: Emit;
  idPrefix: string;
}): Traffic {
  const ledger = new TrafficLedger(options);
  return {
    get phase() {
      return ledger.phase;
    },
    setPhase: (next) => ledger.setPhase(next),
    begin: (input) => ledger.begin(input),
    end: (record, outcome, status, h2) => ledger.end(record, outcome, status, h2),
    websocketOpened: (input) => ledger.websocketOpened(input),
    websocketClosed: (record, end) => ledger.websocketClosed(record, end),
    tcpOpened: () => ledger.tcpOpened(),
    tcpClosed: (record, closedBy) => ledger.tcpClosed(record, closedBy),
    get inFlight() {
      return ledger.inFlight.size;
    },
    get tcpOpen() {
      return ledger.tcp.size;
    },
    get websockets() {
      return ledger.sockets.size;
    },
    get lastArrivalAt() {
      return ledger.lastArrivalAt;
    },
    get arrivals() {
      return ledger.arrivals;
    },
    takeInterval: () => ledger.takeInterval(),
    drainCounts: () => ledger.drainCounts(),
    totals: () => ledger.totals(),
  };
}
