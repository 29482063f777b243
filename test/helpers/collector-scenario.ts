import { randomBytes } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { AnyEvent, EventKind, EventSequencer } from '../../contract/index.js';
import { createEventSequencer, type EventData } from '../../contract/validate.js';
import { publishEvent } from '../../lib/jetstream.js';
import { pollUntil } from '../../lib/wait.js';
import { SAMPLE_DATA } from './sample-events.js';

// A scripted rollout of shop/quote with every cause of docs/architecture.md §4 in it, and the report it must
// produce (worked out by hand from the events, not by running the collector).

export const NS = 'shop';
export const WL = 'quote';

export interface Scenario {
  readonly rolloutId: string;
  /** Every event to publish, in a plausible arrival order. */
  readonly events: readonly AnyEvent[];
  /** Events made (so seqs advanced) but never published: quote-e's evidence has a gap. */
  readonly withheld: readonly AnyEvent[];
}

/**
 * `filler` adds that many traffic summaries without failures from quote-c inside the window: they
 * change no figure of the report, but make the stream long enough to kill a collector inside it.
 */
export function scriptedRollout(t0Ms: number = Date.parse('2026-11-21T10:00:00.000Z'), filler = 0): Scenario {
  const rolloutId = `ro-${randomBytes(3).toString('hex')}`;
  const at = (s: number) => new Date(t0Ms + s * 1000);
  const iso = (s: number) => at(s).toISOString();
  const events: AnyEvent[] = [];
  const withheld: AnyEvent[] = [];
  const pods = new Map<string, EventSequencer>();
  const pod = (name: string) => {
    let s = pods.get(name);
    if (!s) {
      s = createEventSequencer({ namespace: NS, workload: WL, pod: name });
      pods.set(name, s);
    }
    return s;
  };
  const control = createEventSequencer({ namespace: NS, workload: WL, pod: null });
  const emit = <K extends EventKind>(seq: EventSequencer, kind: K, data: EventData<K>, s: number) => {
    const e = seq.next(kind, data, at(s)) as AnyEvent;
    events.push(e);
    return e;
  };
  const podLife = (
    name: string,
    startS: number,
    o: {
      prestopMs: number;
      reason: EventData<'prestop.finished'>['reason'];
      drainMs: number;
      killed: boolean;
      inFlightAtSigterm: number;
      cut: number;
      late: number;
      closes: Record<string, number>;
      propagationMs: number;
    },
    extra?: (s: EventSequencer) => void,
  ) => {
    const p = pod(name);
    emit(p, 'agent.started', SAMPLE_DATA['agent.started'], startS - 100);
    emit(p, 'prestop.started', SAMPLE_DATA['prestop.started'], startS);
    emit(
      p,
      'endpoints.propagated',
      {
        ...SAMPLE_DATA['endpoints.propagated'],
        deletionAt: iso(startS),
        terminatingAt: iso(startS + o.propagationMs / 1000),
        propagationMs: o.propagationMs,
      },
      startS + o.propagationMs / 1000,
    );
    const sig = startS + o.prestopMs / 1000;
    emit(
      p,
      'prestop.finished',
      { ...SAMPLE_DATA['prestop.finished'], durationMs: o.prestopMs, reason: o.reason },
      sig,
    );
    emit(
      p,
      'sigterm',
      { appRunning: true, phase: 'draining', inFlight: o.inFlightAtSigterm, websockets: 1 },
      sig,
    );
    extra?.(p);
    const exit = sig + o.drainMs / 1000;
    emit(p, 'app.stopped-listening', { phase: 'draining', inFlight: 0 }, exit - 0.5);
    emit(
      p,
      'app.exited',
      {
        code: o.killed ? null : 0,
        signal: o.killed ? 'SIGKILL' : null,
        killedAtGrace: o.killed,
        detectedBy: 'process',
        inFlight: o.cut,
      },
      exit,
    );
    return { p, exit };
  };

  // Probe events are published by the probes with the workload identity and no pod.
  const probe = (
    s: number,
    probeId: string,
    sessionId: string,
    podName: string | undefined,
    extra: Partial<EventData<'probe.request'>> = {},
  ) =>
    emit(
      control,
      'probe.request',
      {
        probeId,
        runId: 'run-1',
        sessionId,
        kind: 'traffic',
        method: 'GET',
        route: '/api/quote',
        ok: true,
        status: 200,
        connection: 'reused',
        startedAt: iso(s),
        durationMs: 3,
        ...(podName ? { pod: podName } : {}),
        ...extra,
      },
      s,
    );
  const login = (s: number, sessionId: string, issuedBy: string) =>
    emit(control, 'probe.session', { runId: 'run-1', sessionId, event: 'login', issuedBy, at: iso(s) }, s);

  // Before the rollout: logins, and one request outside the window.
  login(-30, 's1', 'quote-a');
  login(-30, 's2', 'quote-b');
  login(-30, 's3', 'quote-c');
  probe(-20, 'p-before', 's1', 'quote-a', { ok: false, status: 502, error: '5xx' });

  emit(
    control,
    'rollout.started',
    { rolloutId, trigger: 'rehearse', replicas: 3, maxSurge: 1, maxUnavailable: 0 },
    0,
  );

  // 10 ok requests: 3 on quote-a, 3 on quote-b, 4 on quote-c.
  for (let i = 0; i < 3; i++) probe(0.5 + i * 0.1, `ok-a${i}`, 's1', 'quote-a');
  for (let i = 0; i < 3; i++) probe(0.6 + i * 0.1, `ok-b${i}`, 's2', 'quote-b');
  for (let i = 0; i < 4; i++) probe(2 + i * 0.1, `ok-c${i}`, 's3', 'quote-c');

  // quote-a: preStop 5 s (quiet), drains 1 s, clean exit; but a late arrival and a session loss.
  podLife(
    'quote-a',
    1,
    {
      prestopMs: 5000,
      reason: 'quiet',
      drainMs: 1000,
      killed: false,
      inFlightAtSigterm: 2,
      cut: 0,
      late: 1,
      closes: { '1001': 2 },
      propagationMs: 1200,
    },
    (p) => {
      emit(
        p,
        'request',
        {
          ...SAMPLE_DATA.request,
          requestId: 'r-late',
          probeId: 'p-late',
          arrivalPhase: 'draining',
          endPhase: 'draining',
          outcome: 'upstream-refused',
          status: 502,
          lateArrival: true,
          startedAt: iso(6.8),
        },
        6.8,
      );
    },
  );
  emit(
    pod('quote-a'),
    'drain.summary',
    {
      ...SAMPLE_DATA['drain.summary'],
      prestopMs: 5000,
      drainMs: 1000,
      inFlightAtSigterm: 2,
      inFlightCompleted: 2,
      inFlightCut: 0,
      lateArrivals: 1,
      websocketCloses: { '1001': 2 },
      killedAtGrace: false,
      exitCode: 0,
      eventsDropped: 0,
    },
    7.1,
  );
  probe(6.8, 'p-late', 's1', 'quote-a', { ok: false, status: 502, error: '5xx' });
  // s1 was issued by quote-a, terminating since 1 s: its 401 at 8 s is a session lost in memory.
  probe(8, 'p-sess', 's1', 'quote-c', { ok: false, status: 401, error: 'unauthorized', kind: 'identity' });

  // quote-c answers a 500 on its own while serving: cause "other".
  emit(
    pod('quote-c'),
    'request',
    {
      ...SAMPLE_DATA.request,
      requestId: 'r-other',
      probeId: 'p-other',
      arrivalPhase: 'serving',
      endPhase: 'serving',
      outcome: 'http-error',
      status: 500,
      lateArrival: false,
      startedAt: iso(12),
    },
    12,
  );
  emit(
    pod('quote-c'),
    'traffic.summary',
    {
      ...SAMPLE_DATA['traffic.summary'],
      failed: { serving: 2, prestop: 0, draining: 0, exited: 0 },
    },
    5,
  );
  probe(12, 'p-other', 's3', 'quote-c', { ok: false, status: 500, error: '5xx' });

  // quote-b: preStop hits its max, the app ignores SIGTERM and is killed at grace with a request in flight.
  podLife(
    'quote-b',
    10,
    {
      prestopMs: 5000,
      reason: 'max',
      drainMs: 30000,
      killed: true,
      inFlightAtSigterm: 3,
      cut: 1,
      late: 0,
      closes: { '1001': 1, none: 1 },
      propagationMs: 3000,
    },
    (p) => {
      emit(
        p,
        'request',
        {
          ...SAMPLE_DATA.request,
          requestId: 'r-cut',
          probeId: 'p-cut',
          arrivalPhase: 'draining',
          endPhase: 'exited',
          outcome: 'upstream-reset',
          status: 502,
          lateArrival: false,
          durationMs: 5000,
          startedAt: iso(40),
        },
        45,
      );
    },
  );
  emit(
    pod('quote-b'),
    'drain.summary',
    {
      ...SAMPLE_DATA['drain.summary'],
      prestopMs: 5000,
      drainMs: 30000,
      inFlightAtSigterm: 3,
      inFlightCompleted: 2,
      inFlightCut: 1,
      lateArrivals: 0,
      websocketCloses: { '1001': 1, none: 1 },
      killedAtGrace: true,
      exitCode: null,
      eventsDropped: 0,
    },
    45.1,
  );
  emit(
    control,
    'probe.session',
    { runId: 'run-1', sessionId: 's2', event: 'lost', reason: 'unauthorized', pod: 'quote-d', at: iso(16) },
    16,
  );
  probe(40, 'p-cut', 's2', 'quote-b', { ok: false, error: 'reset' });

  // A request refused before any pod saw it, that succeeded on retry.
  probe(20, 'p-never', 's3', undefined, { ok: false, error: 'refused', retry: { ok: true, status: 200 } });
  // quote-e: a clean termination, but one of its events never arrives (a seq gap).
  const e = podLife('quote-e', 20, {
    prestopMs: 3000,
    reason: 'quiet',
    drainMs: 1000,
    killed: false,
    inFlightAtSigterm: 0,
    cut: 0,
    late: 0,
    closes: { '1000': 1 },
    propagationMs: 800,
  });
  withheld.push(e.p.next('traffic.summary', SAMPLE_DATA['traffic.summary'], at(24.2)) as AnyEvent);
  emit(
    e.p,
    'drain.summary',
    {
      ...SAMPLE_DATA['drain.summary'],
      prestopMs: 3000,
      drainMs: 1000,
      inFlightAtSigterm: 0,
      inFlightCompleted: 0,
      inFlightCut: 0,
      lateArrivals: 0,
      websocketCloses: { '1000': 1 },
      killedAtGrace: false,
      exitCode: 0,
      eventsDropped: 0,
    },
    24.5,
  );

  for (let i = 0; i < filler; i++) {
    emit(pod('quote-c'), 'traffic.summary', SAMPLE_DATA['traffic.summary'], 1 + (i % 48));
  }

  const ws = (s: number, event: EventData<'probe.websocket'>['event'], code?: number) =>
    emit(
      control,
      'probe.websocket',
      {
        runId: 'run-1',
        sessionId: 's3',
        connectionId: 'c-1',
        event,
        ...(code !== undefined ? { code } : {}),
        at: iso(s),
      },
      s,
    );
  ws(45, 'closed', 1006);
  ws(45.1, 'message-lost');
  ws(45.2, 'message-lost');
  emit(
    control,
    'probe.summary',
    { ...SAMPLE_DATA['probe.summary'], skewRatio: 1.5, sticky: false, messagesLost: 2 },
    49,
  );
  emit(control, 'rollout.finished', { rolloutId, outcome: 'complete', podsReplaced: 3 }, 50);
  return { rolloutId, events, withheld };
}

/** The report fields the scripted rollout must produce, every score and every cause count. */
export function expectedReport(rolloutId: string, t0Ms: number = Date.parse('2026-11-21T10:00:00.000Z')) {
  return {
    rolloutId,
    namespace: NS,
    workload: WL,
    trigger: 'rehearse',
    outcome: 'complete',
    startedAt: '2026-11-21T10:00:00.000Z',
    finishedAt: '2026-11-21T10:00:50.000Z',
    durationSeconds: 50,
    podsReplaced: 3,
    // Issue #15: the 6 ok requests before quote-a's termination (1 s) are the baseline's, so the
    // rollout's are 9 (4 ok); quote-e closed a WebSocket with 1000 at shutdown, so no termination
    // is clean (it was 1 of 3 when 1000 counted as clean).
    scores: { sessionPersistence: 1 / 3, requestSuccess: 4 / 9, cleanTerminations: 0 },
    sessions: {
      active: 3,
      lost: 2,
      lostByCause: {
        'late-arrival': 0,
        'cut-in-flight': 0,
        'no-close-frame': 0,
        'session-in-memory': 2,
        'session-not-shared': 0,
        'killed-at-grace': 0,
        'never-reached-pod': 0,
        'no-session-affinity': 0,
        'stale-keepalive': 0,
        'no-goaway': 0,
        'stuck-connection': 0,
        other: 0,
      },
    },
    baseline: {
      rolloutBeganAt: new Date(t0Ms + 1000).toISOString(),
      requests: 6,
      failed: 0,
      sessionsLost: 0,
    },
    probeRequests: { total: 9, ok: 4, failed: 5, retriedOk: 1 },
    // Issue #15: the dropped probe WebSocket is no failed request (no-close-frame was 1): the
    // causes sum to the 5 failed requests.
    failedByCause: {
      'late-arrival': 1,
      'cut-in-flight': 0,
      'no-close-frame': 0,
      'session-in-memory': 1,
      'session-not-shared': 0,
      'killed-at-grace': 1,
      'never-reached-pod': 1,
      'no-session-affinity': 0,
      'stale-keepalive': 0,
      'no-goaway': 0,
      'stuck-connection': 0,
      other: 1,
    },
    failedByPhase: { serving: 2, prestop: 0, draining: 2, exited: 0, unknown: 1 },
    clientErrors: {
      '5xx': 2,
      reset: 1,
      refused: 1,
      timeout: 0,
      unauthorized: 1,
      'identity-mismatch': 0,
      other: 0,
    },
    inFlightAtSigterm: 5,
    inFlightCut: 1,
    inFlightLost: 1,
    lateArrivals: 1,
    healthChecks: { requests: 0, failed: 0 },
    agentFailedRequests: { serving: 2, prestop: 0, draining: 0, exited: 0 },
    agentEventsDropped: 0,
    endpointPropagation: { samples: 3, p50Ms: 1200, maxMs: 3000 },
    // Every probe request of the scenario took 3 ms.
    latency: { samples: 9, p50Ms: 3, p95Ms: 3, p99Ms: 3, maxMs: 3 },
    prestop: { samples: 3, p50Ms: 5000, maxMs: 5000, byReason: { quiet: 2, max: 1 } },
    drain: { samples: 3, p50Ms: 1000, maxMs: 30000 },
    websocketCloses: { '1001': 3, none: 1, '1000': 1 },
    websocketOutcomes: {
      atTermination: {
        clean: 3,
        'normal-close-at-shutdown': 1,
        'no-close-frame': 0,
        'killed-at-grace': 1,
        'other-code': 0,
      },
      probe: {
        clean: 0,
        'normal-close-at-shutdown': 0,
        'no-close-frame': 1,
        'killed-at-grace': 0,
        'other-code': 0,
      },
    },
    websocketsDropped: 1,
    messagesLost: 2,
    // Issue #15: request rates over the time each pod served (was 1.5, the probe summary's,
    // standing in for counts): quote-c 6 in 10 s ÷ quote-b 4 in 9.4 s; quote-a served 0.5 s, left out.
    trafficSkew: 0.6 / (4 / 9.4),
    stickyRouting: false,
    evidenceIncomplete: ['quote-e'],
    inconclusive: null,
    invariantViolations: [],
  };
}

/** Publishes events in order, each acknowledged by JetStream. */
export async function publishAll(
  nc: NatsConnection,
  events: readonly AnyEvent[],
  root: string,
): Promise<void> {
  const js = jetstream(nc);
  for (const e of events) await publishEvent(js, e, { root });
}

/**
 * Publishes events in order, each retried every 100 ms (a publish times out after 2 s) until
 * JetStream acknowledges it, as the agent's publisher does through a node loss: the event id is the
 * message id, so a retry is stored once. Notes in `ackedAt` (event id → ms since the epoch) when
 * each was acknowledged. Throws pollUntil's timeout error after `timeoutMs` for one event.
 */
export async function publishUntilAcked(
  js: ReturnType<typeof jetstream>,
  events: readonly AnyEvent[],
  root: string,
  options: { readonly ackedAt?: Map<string, number>; readonly timeoutMs?: number } = {},
): Promise<void> {
  for (const e of events) {
    await pollUntil(
      async () => {
        await publishEvent(js, e, { root, timeoutMs: 2000 });
        return true;
      },
      { timeoutMs: options.timeoutMs ?? 30_000, intervalMs: 100, what: `event ${e.id} acknowledged` },
    );
    options.ackedAt?.set(e.id, Date.now());
  }
}
