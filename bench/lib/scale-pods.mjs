// What one simulated pod of the scale bench (bench/scale.mjs) publishes: its termination's script,
// grouped into messages as its agent's --request-batch would (scale-batches.mjs), and each message
// built as an event.
import { podMessages } from './scale-batches.mjs';

export const POD_DRAIN_MS = 5000;

const iso = (ms) => new Date(ms).toISOString();

/** One pod's termination: [offset ms within its drain, kind, data(now)] in publish order. */
function podScript(pod, requests) {
  const steps = [
    [
      0,
      'prestop.started',
      () => ({ mode: 'adaptive', minMs: 3000, quietMs: 2000, maxMs: 25000, inFlight: 2, websockets: 0 }),
    ],
  ];
  for (let i = 0; i < requests; i++) {
    const off = Math.floor(((i + 0.5) / requests) * POD_DRAIN_MS);
    const phase = off < 3000 ? 'prestop' : 'draining';
    steps.push([
      off,
      'request',
      (now) => ({
        requestId: `r-${pod}-${i}`,
        probeId: `p-${pod}-${i}`,
        method: 'GET',
        route: '/api/quote',
        arrivalPhase: phase,
        endPhase: phase,
        outcome: 'ok',
        status: 200,
        durationMs: 2,
        connection: 'reused',
        lateArrival: false,
        startedAt: iso(now),
      }),
    ]);
  }
  const n = requests;
  steps.push(
    [
      2000,
      'traffic.summary',
      () => ({
        intervalMs: 5000,
        phase: 'prestop',
        requests: { serving: 0, prestop: n, draining: 0, exited: 0 },
        failed: { serving: 0, prestop: 0, draining: 0, exited: 0 },
        inFlight: 1,
        websockets: 0,
        lateArrivals: 0,
        eventsDropped: 0,
      }),
    ],
    [
      3000,
      'prestop.finished',
      () => ({ mode: 'adaptive', durationMs: 3000, reason: 'quiet', requestsDuring: n, inFlight: 1 }),
    ],
    [3000, 'sigterm', () => ({ appRunning: true, phase: 'draining', inFlight: 1, websockets: 0 })],
    [3300, 'app.stopped-listening', () => ({ phase: 'draining', sincePrestopMs: 3300, inFlight: 1 })],
    [
      POD_DRAIN_MS,
      'app.exited',
      () => ({
        code: 0,
        signal: null,
        killedAtGrace: false,
        sincePrestopMs: POD_DRAIN_MS,
        detectedBy: 'port',
        inFlight: 0,
      }),
    ],
    [
      POD_DRAIN_MS,
      'drain.summary',
      () => ({
        prestopMs: 3000,
        drainMs: 2000,
        requestsTotal: n,
        inFlightAtSigterm: 1,
        inFlightCompleted: 1,
        inFlightCut: 0,
        lateArrivals: 0,
        websocketsAtSigterm: 0,
        websocketCloses: {},
        exitCode: 0,
        killedAtGrace: false,
        eventsDropped: 0,
      }),
    ],
  );
  return steps.sort((a, b) => a[0] - b[0]);
}

/** One pod's script as the messages its agent publishes with --request-batch `batchMs` (scale-batches.mjs). */
export function podScriptMessages(pod, requests, batchMs) {
  return podMessages(podScript(pod, requests), { batchMs });
}

/**
 * The event of one scripted message, published now. A request record ended at its scripted time
 * (`podStartAt` + its offset; with --prefill, where podStartAt is undefined, now, as every event
 * then): a batch carries it as the record's `at` and is stamped with its flush time (now); a plain
 * `request` from a one-record window carries its end time; every other event is stamped now.
 */
export function eventOf(seq, m, podStartAt, now) {
  const ended = (due) => (podStartAt === undefined ? now : podStartAt + due);
  if (m.records) {
    const records = m.records.map((r) => {
      const at = ended(r.due);
      return { ...r.data(at), at: iso(at) };
    });
    return seq.next('request.batch', { records }, new Date(now));
  }
  if (m.recordDue !== undefined) {
    const at = ended(m.recordDue);
    return seq.next('request', m.data(at), new Date(at));
  }
  return seq.next(m.kind, m.data(now), new Date(now));
}
