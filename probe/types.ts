import type { ProbeError } from '../contract/index.js';
import type { ProbeLatency } from './latency.js';

/** Wall-clock milliseconds; injected so window and timeout logic can be tested. */
export interface Clock {
  now(): number;
}

export const SYSTEM_CLOCK: Clock = { now: () => Date.now() };

export interface ProbeWebSocketStats {
  /** Sessions that keep a WebSocket. */
  readonly sessions: number;
  /** Connections that opened (reconnects included). */
  readonly connections: number;
  readonly open: number;
  /** Handshakes that never opened (refused, rejected, timed out). */
  readonly connectFailures: number;
  /** Distinct messages; a re-send after reconnect is counted in `resent`, not here. */
  readonly messagesSent: number;
  readonly messagesAcked: number;
  /**
   * Distinct messages no pod acknowledged before the connection they were sent on ended, or within
   * the ack timeout; once per correlation id, whatever a re-send brought later.
   */
  readonly messagesLost: number;
  /** Re-sends of lost messages after a reconnect; counted apart from sent, acked and lost. */
  readonly resent: number;
  /** Closes the probe did not ask for, by code; 1006 when no close frame arrived. */
  readonly closesByCode: Readonly<Record<string, number>>;
}

/** What a run has seen so far. Raw results: a retried success still counts as failed. */
export interface ProbeSnapshot {
  readonly runId: string;
  readonly target: string;
  readonly elapsedMs: number;
  readonly sessions: number;
  /** Sessions whose first login succeeded. */
  readonly sessionsStarted: number;
  /** Logged in right now. */
  readonly sessionsActive: number;
  /** Started and never lost. */
  readonly sessionsOk: number;
  /** Distinct sessions lost at least once. */
  readonly sessionsLost: number;
  /** Every loss once: a session lost, logged in again and lost again counts twice. */
  readonly losses: number;
  readonly lossesByReason: Readonly<Partial<Record<ProbeError, number>>>;
  readonly requests: number;
  readonly failed: number;
  readonly retried: number;
  readonly retriedOk: number;
  /** Requests per second over the last progress interval. */
  readonly requestsPerSecond: number;
  readonly errorsByKind: Readonly<Partial<Record<ProbeError, number>>>;
  /** Requests answered per pod (`x-drainwatch-pod`) over the whole run. */
  readonly perPod: Readonly<Record<string, number>>;
  /** Busiest ÷ quietest pod over the latest sliding window. */
  readonly skewRatio: number | null;
  /** The largest window ratio seen so far (full windows only; the whole run when shorter than one). */
  readonly maxSkewRatio: number | null;
  /** Busiest ÷ quietest over the whole run's per-pod counts. */
  readonly runSkewRatio: number | null;
  readonly sticky: boolean;
  readonly stickyReason: string | null;
  readonly connections: { readonly new: number; readonly reused: number };
  readonly websockets: ProbeWebSocketStats;
  /** The probe's event-loop lag over the latest progress interval. */
  readonly loopLagMs: number;
  /** The largest lag after the ramp settled (last session started + 2 s); it decides `unreliable`. */
  readonly maxLoopLagMs: number;
  /** Sessions are still starting (or started less than 2 s ago). */
  readonly ramping: boolean;
  /** The largest lag while ramping, reported apart: the login storm is not the rollout. */
  readonly rampMaxLoopLagMs: number;
  readonly unreliable: boolean;
  readonly unreliableReason: string | null;
  readonly eventsPublished: number;
  readonly eventsDropped: number;
}

export interface ProbeSummary extends ProbeSnapshot {
  readonly startedAt: string;
  readonly endedAt: string;
  /** Started sessions that were never lost ÷ started sessions (docs/architecture.md §4), null without sessions. */
  readonly sessionPersistence: number | null;
  /** Raw successes ÷ requests, null without requests. */
  readonly requestSuccess: number | null;
  /** Request latency over the whole run (probe/latency.ts: HdrHistogram, within 0.1%). */
  readonly latency: ProbeLatency;
}

export interface ProbeRun {
  /** Checks the target is reachable (TargetUnreachableError otherwise), then starts the sessions, ramped. */
  start(): Promise<void>;
  /** Stops every session, lets in-flight requests and pending acks end, publishes the summary. */
  stop(): Promise<ProbeSummary>;
  snapshot(): ProbeSnapshot;
  /** Called every progress interval; returns the unsubscribe function. */
  onProgress(cb: (snapshot: ProbeSnapshot) => void): () => void;
}
