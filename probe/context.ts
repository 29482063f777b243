import type { ProbeError } from '../contract/index.js';
import type { EventData } from '../contract/validate.js';
import type { ResolvedProbeConfig } from './config.js';
import type { Clock } from './types.js';

/** The counters a run accumulates; sessions and WebSockets write them, snapshot() reads them. */
export interface ProbeCounters {
  sessionsStarted: number;
  sessionsActive: number;
  sessionsLost: number;
  losses: number;
  lossesByReason: Partial<Record<ProbeError, number>>;
  requests: number;
  failed: number;
  retried: number;
  retriedOk: number;
  errorsByKind: Partial<Record<ProbeError, number>>;
  perPod: Record<string, number>;
  connectionsNew: number;
  connectionsReused: number;
  wsSessions: number;
  wsConnections: number;
  wsOpen: number;
  wsConnectFailures: number;
  messagesSent: number;
  messagesAcked: number;
  messagesLost: number;
  resent: number;
  closesByCode: Record<string, number>;
}

export function emptyCounters(): ProbeCounters {
  return {
    sessionsStarted: 0,
    sessionsActive: 0,
    sessionsLost: 0,
    losses: 0,
    lossesByReason: {},
    requests: 0,
    failed: 0,
    retried: 0,
    retriedOk: 0,
    errorsByKind: {},
    perPod: {},
    connectionsNew: 0,
    connectionsReused: 0,
    wsSessions: 0,
    wsConnections: 0,
    wsOpen: 0,
    wsConnectFailures: 0,
    messagesSent: 0,
    messagesAcked: 0,
    messagesLost: 0,
    resent: 0,
    closesByCode: {},
  };
}

export function bump<K extends string>(map: Partial<Record<K, number>>, key: K, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

/** What a session or WebSocket needs from its run. */
export interface ProbeContext {
  readonly config: ResolvedProbeConfig;
  readonly clock: Clock;
  readonly counters: ProbeCounters;
  /** Aborted when the run stops: loops end, waits reject. */
  readonly signal: AbortSignal;
  /** True when NATS is attached, so hot paths can skip building events nobody reads. */
  readonly publishing: boolean;
  /** Publishes an event when NATS is attached; a no-op otherwise. */
  emit<K extends 'probe.request' | 'probe.session' | 'probe.websocket'>(kind: K, data: EventData<K>): void;
  /** Counts one request answered by `pod` (skew window, per-pod totals). */
  answeredBy(pod: string): void;
  /** Records one request's duration (ms; first attempts only, as counted in `requests`). */
  recordLatency(durationMs: number): void;
  /** Reports the names of cookies a response set, for affinity detection. */
  cookiesSet(names: readonly string[]): void;
}
