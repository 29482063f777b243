import type { ProbeError } from '../contract/index.js';
import type { EventData } from '../contract/validate.js';
import type { ResolvedProbeConfig } from './config.js';
import type { Clock } from './types.js';
import type { PushVerdict } from './ws-patterns.js';

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
  /** Subscription pushes that carried a sequence number (duplicates included). */
  messagesReceived: number;
  messagesDuplicated: number;
  /** SSE streams the probe did not close, by how they ended. */
  streamEnds: Record<string, number>;
  /** Socket.IO disconnects the probe did not ask for, by the client's reason. */
  disconnectReasons: Record<string, number>;
  /** Socket.IO disconnects and failed connects whose evidence shows a cause, by cause. */
  disconnectCauses: Record<string, number>;
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
    messagesReceived: 0,
    messagesDuplicated: 0,
    streamEnds: {},
    disconnectReasons: {},
    disconnectCauses: {},
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

/** One loss of a logged-in session, as `probe.session` publishes it. */
export interface SessionLoss {
  readonly sessionId: string;
  readonly reason: ProbeError;
  /** The pod that issued the session, when known. */
  readonly issuedBy?: string;
  /** The pod that answered the request that lost it, when known. */
  readonly pod?: string;
  readonly probeId: string;
}

/**
 * Counts a session loss and publishes it (`probe.session`, event `lost`), for HTTP and gRPC
 * sessions alike. `losses` counts every loss; `sessionsLost` a session once (`firstLoss`).
 */
export function recordSessionLoss(ctx: ProbeContext, loss: SessionLoss, firstLoss: boolean): void {
  const c = ctx.counters;
  c.sessionsActive -= 1;
  c.losses += 1;
  bump(c.lossesByReason, loss.reason);
  if (firstLoss) c.sessionsLost += 1;
  ctx.emit('probe.session', {
    runId: ctx.config.runId,
    sessionId: loss.sessionId,
    event: 'lost',
    reason: loss.reason,
    ...(loss.issuedBy ? { issuedBy: loss.issuedBy } : {}),
    ...(loss.pod ? { pod: loss.pod } : {}),
    probeId: loss.probeId,
    at: new Date(ctx.clock.now()).toISOString(),
  });
}

/**
 * A session's one interruptible wait: `wait(ms)` resolves after `ms` (at once when the run is
 * aborted), `wake()` ends the pending wait early. One timer per session that stop can cut short;
 * thousands of sessions listening on one AbortSignal would make every wait cost O(sessions) in
 * EventTarget bookkeeping.
 */
export function createSessionSleeper(signal: AbortSignal): {
  wait(ms: number): Promise<void>;
  wake(): void;
} {
  let sleeper: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
  return {
    wait: (ms) =>
      new Promise((resolve) => {
        if (signal.aborted) return resolve();
        const timer = setTimeout(() => {
          sleeper = undefined;
          resolve();
        }, ms);
        timer.unref();
        sleeper = { timer, resolve };
      }),
    wake() {
      if (!sleeper) return;
      clearTimeout(sleeper.timer);
      sleeper.resolve();
      sleeper = undefined;
    },
  };
}

/**
 * Counts one sequenced push (WebSocket subscribe, SSE, gRPC stream) and publishes a gap or a
 * duplicate (`probe.websocket` `message-gap` / `message-duplicate`). A gap opened where the previous
 * push came from (`previousPod`); a duplicate is the current connection's (`pod`).
 */
export function recordPush(
  ctx: ProbeContext,
  base: Pick<EventData<'probe.websocket'>, 'runId' | 'sessionId' | 'transport'>,
  connectionId: string,
  verdict: PushVerdict,
  pods: { readonly previousPod: string | undefined; readonly pod: string | undefined },
): void {
  const c = ctx.counters;
  c.messagesReceived += 1;
  if (verdict.kind !== 'gap' && verdict.kind !== 'duplicate') return;
  if (verdict.kind === 'gap') c.messagesLost += verdict.missed;
  else c.messagesDuplicated += 1;
  const at = verdict.kind === 'gap' ? pods.previousPod : pods.pod;
  ctx.emit('probe.websocket', {
    ...base,
    connectionId,
    event: verdict.kind === 'gap' ? 'message-gap' : 'message-duplicate',
    messageId: String(verdict.seq),
    ...(verdict.kind === 'gap' ? { missed: verdict.missed } : {}),
    ...(at ? { pod: at } : {}),
    at: new Date(ctx.clock.now()).toISOString(),
  });
}
