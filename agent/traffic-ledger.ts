import { type Phase, type RequestOutcome, type TcpClosedBy, websocketCloseKey } from '../contract/index.js';
import type { PhaseCounts } from '../contract/validate.js';
import { routeOf } from '../lib/route.js';
import { type AgentMetrics, statusClass } from './metrics.js';
import type { Clock } from './time.js';
import type {
  DrainCounts,
  Emit,
  IntervalCounts,
  RequestRecord,
  StreamFacts,
  TcpRecord,
  Traffic,
  WebSocketEnd,
  WebSocketRecord,
} from './traffic.js';
import { requestEvent, websocketClosedEvent } from './traffic-events.js';

// The counting behind Traffic (traffic.ts): what is open now, the counters of the current summary
// interval and since start, and what was open as the pod started draining.

const zero = (): PhaseCounts => ({ serving: 0, prestop: 0, draining: 0, exited: 0 });
const zeroInterval = () => ({
  requests: zero(),
  failed: zero(),
  lateArrivals: 0,
  healthChecks: 0,
  healthChecksFailed: 0,
  tcpOpened: 0,
});

export interface TrafficLedgerOptions {
  readonly clock: Clock;
  readonly metrics: AgentMetrics;
  readonly emit: Emit;
  /** Prefixes every requestId and wsId this agent gives. */
  readonly idPrefix: string;
}

type RequestCounter = ReturnType<AgentMetrics['requests']['labels']>;
type BeginInput = Parameters<Traffic['begin']>[0];

// One object per agent, methods on the prototype (begin and end are on every request's path).
export class TrafficLedger {
  phase: Phase = 'serving';
  lastArrivalAt = Number.NEGATIVE_INFINITY;
  arrivals = 0;
  readonly inFlight = new Set<RequestRecord>();
  readonly sockets = new Set<WebSocketRecord>();
  readonly tcp = new Set<TcpRecord>();
  private seq = 0;
  private wsSeq = 0;
  private interval = zeroInterval();
  private readonly total = { requests: zero(), failed: zero(), lateArrivals: 0 };
  private inFlightAtSigterm = 0;
  private inFlightCompleted = 0;
  private inFlightCut = 0;
  private websocketsAtSigterm = 0;
  private readonly websocketCloses: Record<string, number> = {};
  private tcpAtSigterm = 0;
  private tcpSeen = false;
  private readonly tcpCloses: Partial<Record<TcpClosedBy, number>> = {};
  // prom-client hashes the labels on every inc(); the children are few (4 phases × 6 classes).
  private readonly counters = new Map<string, RequestCounter>();

  constructor(private readonly options: TrafficLedgerOptions) {}

  setPhase(next: Phase): void {
    if (next === this.phase) return;
    this.phase = next;
    if (next !== 'draining') return;
    this.inFlightAtSigterm = 0;
    for (const r of this.inFlight) {
      if (r.healthCheck) continue;
      r.inFlightAtSigterm = true;
      this.inFlightAtSigterm += 1;
    }
    for (const w of this.sockets) w.atSigterm = true;
    for (const t of this.tcp) t.atSigterm = true;
    this.websocketsAtSigterm = this.sockets.size;
    this.tcpAtSigterm = this.tcp.size;
  }

  private arrive(quietWindow = true): void {
    if (quietWindow) this.lastArrivalAt = this.options.clock.now();
    this.arrivals += 1;
  }

  begin({
    method,
    url,
    probeId,
    healthCheck = false,
    reused,
    protocol,
    quietWindow,
  }: BeginInput): RequestRecord {
    this.arrive(quietWindow);
    this.seq += 1;
    const record: RequestRecord = {
      seq: this.seq,
      method: method.length > 16 ? method.slice(0, 16) : method,
      route: routeOf(url),
      probeId,
      healthCheck,
      arrivalPhase: this.phase,
      startedAt: this.options.clock.now(),
      connection: reused ? 'reused' : 'new',
      protocol,
      inFlightAtSigterm: false,
      done: false,
    };
    this.inFlight.add(record);
    this.options.metrics.inFlight.set(this.inFlight.size);
    return record;
  }

  end(record: RequestRecord, outcome: RequestOutcome, status?: number, h2?: StreamFacts): void {
    if (record.done) return;
    record.done = true;
    this.inFlight.delete(record);
    this.options.metrics.inFlight.set(this.inFlight.size);
    const failed = outcome !== 'ok';
    if (record.healthCheck) {
      // A kubelet check of a booting or draining app fails by design: it is no user's failure.
      this.interval.healthChecks += 1;
      if (failed) this.interval.healthChecksFailed += 1;
      if (failed || record.arrivalPhase !== this.phase) this.emitRequest(record, outcome, status, false, h2);
      return;
    }
    const late = record.arrivalPhase !== 'serving' && outcome === 'upstream-refused';
    this.count(record, failed, late);
    const arrival = record.arrivalPhase;
    this.requestCounter(arrival, statusClass(status)).inc();
    if (record.protocol === 'h2') this.options.metrics.h2Streams.labels({ phase: arrival, outcome }).inc();
    if (record.probeId !== undefined || failed || record.arrivalPhase !== this.phase) {
      this.emitRequest(record, outcome, status, late, h2);
    }
  }

  /** A user request's end in the interval's and total counters, and the drain's. */
  private count(record: RequestRecord, failed: boolean, late: boolean): void {
    const arrival = record.arrivalPhase;
    this.interval.requests[arrival] += 1;
    this.total.requests[arrival] += 1;
    if (failed) {
      this.interval.failed[arrival] += 1;
      this.total.failed[arrival] += 1;
    }
    if (late) {
      this.interval.lateArrivals += 1;
      this.total.lateArrivals += 1;
    }
    if (record.inFlightAtSigterm) {
      if (failed) this.inFlightCut += 1;
      else this.inFlightCompleted += 1;
    }
  }

  private requestCounter(phase: Phase, cls: string): RequestCounter {
    const key = `${phase}|${cls}`;
    let c = this.counters.get(key);
    if (!c) {
      c = this.options.metrics.requests.labels({ phase, status_class: cls });
      this.counters.set(key, c);
    }
    return c;
  }

  private emitRequest(
    record: RequestRecord,
    outcome: RequestOutcome,
    status: number | undefined,
    late: boolean,
    h2: StreamFacts | undefined,
  ): void {
    const { clock, emit, idPrefix } = this.options;
    emit(
      'request',
      requestEvent(record, { outcome, status, late, h2, endPhase: this.phase, now: clock.now() }, idPrefix),
    );
  }

  websocketOpened({ url, probeId }: { url: string; probeId: string | undefined }): WebSocketRecord {
    this.arrive();
    this.wsSeq += 1;
    const record: WebSocketRecord = {
      id: `${this.options.idPrefix}-ws${this.wsSeq}`,
      route: routeOf(url),
      probeId,
      openedPhase: this.phase,
      openedAt: this.options.clock.now(),
      atSigterm: false,
    };
    this.sockets.add(record);
    this.options.metrics.websockets.set(this.sockets.size);
    this.options.emit('websocket.opened', {
      wsId: record.id,
      ...(probeId !== undefined ? { probeId } : {}),
      route: record.route,
      phase: this.phase,
    });
    return record;
  }

  websocketClosed(record: WebSocketRecord, end: WebSocketEnd): void {
    if (!this.sockets.delete(record)) return;
    this.options.metrics.websockets.set(this.sockets.size);
    const key = websocketCloseKey(end);
    this.websocketCloses[key] = (this.websocketCloses[key] ?? 0) + 1;
    const now = this.options.clock.now();
    this.options.emit('websocket.closed', websocketClosedEvent(record, end, this.phase, now));
  }

  tcpOpened(): TcpRecord {
    // A tunnelled connection is an arrival too: the adaptive preStop waits for quiet on it.
    this.arrive();
    this.tcpSeen = true;
    this.interval.tcpOpened += 1;
    const record: TcpRecord = { atSigterm: false, done: false };
    this.tcp.add(record);
    this.options.metrics.tcpOpen.set(this.tcp.size);
    return record;
  }

  tcpClosed(record: TcpRecord, closedBy: TcpClosedBy): void {
    if (record.done) return;
    record.done = true;
    this.tcp.delete(record);
    this.options.metrics.tcpOpen.set(this.tcp.size);
    this.options.metrics.tcpClosed.labels({ closed_by: closedBy, phase: this.phase }).inc();
    this.tcpCloses[closedBy] = (this.tcpCloses[closedBy] ?? 0) + 1;
  }

  takeInterval(): IntervalCounts {
    const out = this.interval;
    this.interval = zeroInterval();
    return out;
  }

  drainCounts(): DrainCounts {
    return {
      requestsTotal: Object.values(this.total.requests).reduce((a, b) => a + b, 0),
      inFlightAtSigterm: this.inFlightAtSigterm,
      inFlightCompleted: this.inFlightCompleted,
      inFlightCut: this.inFlightCut,
      lateArrivals: this.total.lateArrivals,
      websocketsAtSigterm: this.websocketsAtSigterm,
      websocketCloses: { ...this.websocketCloses },
      ...(this.tcpSeen ? { tcpAtSigterm: this.tcpAtSigterm, tcpCloses: { ...this.tcpCloses } } : {}),
    };
  }

  totals(): { requests: PhaseCounts; failed: PhaseCounts; lateArrivals: number } {
    return {
      requests: { ...this.total.requests },
      failed: { ...this.total.failed },
      lateArrivals: this.total.lateArrivals,
    };
  }
}
