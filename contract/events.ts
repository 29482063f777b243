import { z } from 'zod';
import {
  CAUSES,
  CONNECTIONS,
  type EventKind,
  MAX_REQUEST_BATCH_RECORDS,
  PHASES,
  PRESTOP_END_REASONS,
  PROBE_ERRORS,
  PROBE_LIVE_TRANSPORTS,
  PROBE_WEBSOCKET_EVENTS,
  REQUEST_OUTCOMES,
  STREAM_ENDS,
  TCP_CLOSED_BY,
} from './kinds.js';

// The data payload of every event kind, as zod schemas built from the plain lists of kinds.ts.
// Both the agent (producer) and the collector (consumer) follow these schemas, so a change here is
// a change of the wire contract: add optional fields within a major version, never rename or
// retype one. Only consumers load this module at run time: the agent builds events from their
// TypeScript types (contract/event-builder.ts) and imports nothing here but types.

// The zod-free names that used to be defined here, so existing imports of events.js keep working.

export const phaseSchema = z.enum(PHASES);

const count = z.number().int().nonnegative();
const millis = z.number().nonnegative();
const isoTime = z.iso.datetime({ offset: true });
const shortText = z.string().max(256);
const phaseCounts = z.object({
  serving: count,
  prestop: count,
  draining: count,
  exited: count,
});
export type PhaseCounts = z.infer<typeof phaseCounts>;

/** Why a preStop wait ended. `endpoints-terminating` is fed by the Kubernetes adapter. */
export const prestopEndReasonSchema = z.enum(PRESTOP_END_REASONS);

/** What happened to a request, seen from the agent. */
export const requestOutcomeSchema = z.enum(REQUEST_OUTCOMES);

/** What went wrong for a probe, seen from the client. */
export const probeErrorSchema = z.enum(PROBE_ERRORS);

export const connectionSchema = z.enum(CONNECTIONS);

/** The data of a `request` event, and of each record of a `request.batch`. */
const requestData = z.object({
  requestId: shortText,
  probeId: shortText.optional(),
  /** A kubelet health or readiness check (`User-Agent: kube-probe/…`), counted apart from users. */
  healthCheck: z.boolean().optional(),
  method: z.string().max(16),
  route: shortText,
  arrivalPhase: phaseSchema,
  endPhase: phaseSchema,
  outcome: requestOutcomeSchema,
  status: z.number().int().min(100).max(599).optional(),
  durationMs: millis,
  connection: connectionSchema,
  lateArrival: z.boolean(),
  startedAt: isoTime,
  /** `h2`: an HTTP/2 stream (a gRPC call); absent for HTTP/1.x. */
  protocol: z.enum(['h2']).optional(),
  /** The `grpc-status` of the stream's trailers (gRPC status codes are 0-16). */
  grpcStatus: z.number().int().min(0).max(999).optional(),
  /** The error code of the RST_STREAM that ended the stream (RFC 9113 §7). */
  rstCode: z.number().int().min(0).max(4294967295).optional(),
  /**
   * h2, a stream ended by its connection closing: whether a GOAWAY (the app's or the agent's) had
   * gone to the client first; absent for streams that ended otherwise.
   */
  goaway: z.boolean().optional(),
});

// EVENT_KINDS (kinds.ts) and these keys must be the same set: a kind listed there without a schema
// here fails to compile as a missing property, a schema here for a kind not listed there as an
// unknown one (and again below, as type checks that a spread cannot escape).
export const dataSchemas = {
  'agent.started': z.object({
    version: shortText,
    listen: shortText,
    upstream: shortText,
    admin: shortText,
    prestopPolicy: shortText,
    graceSeconds: millis,
    nodeName: shortText.optional(),
    podIp: shortText.optional(),
  }),
  'prestop.started': z.object({
    mode: z.enum(['adaptive', 'fixed']),
    fixedMs: millis.optional(),
    minMs: millis.optional(),
    quietMs: millis.optional(),
    maxMs: millis.optional(),
    inFlight: count,
    websockets: count,
  }),
  'prestop.finished': z.object({
    mode: z.enum(['adaptive', 'fixed']),
    durationMs: millis,
    reason: prestopEndReasonSchema,
    requestsDuring: count,
    inFlight: count,
  }),
  sigterm: z.object({
    appRunning: z.boolean(),
    phase: phaseSchema,
    inFlight: count,
    websockets: count,
  }),
  'app.stopped-listening': z.object({
    phase: phaseSchema,
    sincePrestopMs: millis.optional(),
    inFlight: count,
  }),
  'app.exited': z.object({
    code: z.number().int().nullable(),
    signal: shortText.nullable(),
    killedAtGrace: z.boolean(),
    sincePrestopMs: millis.optional(),
    detectedBy: z.enum(['process', 'port', 'pid']),
    inFlight: count,
  }),
  /**
   * The agent's traffic listener follows the app's: closed (new connects refused, as by the bare
   * pod) once the app stopped listening and no request was in flight, open again once it listens.
   */
  'agent.listener': z.object({
    accepting: z.boolean(),
    appListening: z.boolean(),
    phase: phaseSchema,
    inFlight: count,
  }),
  request: requestData,
  /**
   * Request records that ended within one batching window of the agent, in the order they ended;
   * each as a `request` event's data plus `at`, the time (ISO 8601) that event would have carried.
   * Readers see each record as its own `request` event (requestsOfBatch).
   */
  'request.batch': z.object({
    records: z
      .array(requestData.extend({ at: isoTime }))
      .min(1)
      .max(MAX_REQUEST_BATCH_RECORDS),
  }),
  'websocket.opened': z.object({
    wsId: shortText,
    probeId: shortText.optional(),
    route: shortText,
    phase: phaseSchema,
  }),
  'websocket.closed': z.object({
    wsId: shortText,
    probeId: shortText.optional(),
    openedPhase: phaseSchema,
    closedPhase: phaseSchema,
    code: z.number().int().min(0).max(4999).optional(),
    closedBy: z.enum(['client', 'app', 'none']),
    closeFrame: z.boolean(),
    durationMs: millis,
    framesFromClient: count,
    framesFromApp: count,
  }),
  'traffic.summary': z.object({
    intervalMs: millis,
    phase: phaseSchema,
    requests: phaseCounts,
    failed: phaseCounts,
    inFlight: count,
    websockets: count,
    lateArrivals: count,
    /** Health and readiness checks in the interval, apart from `requests` and `failed`. */
    healthChecks: count.optional(),
    healthChecksFailed: count.optional(),
    eventsDropped: count,
    /** Tunnelled TCP connections (traffic not parsed as HTTP/1.x) opened in the interval, and open now. */
    tcpOpened: count.optional(),
    tcpOpen: count.optional(),
  }),
  'drain.summary': z.object({
    prestopMs: millis.optional(),
    drainMs: millis.optional(),
    requestsTotal: count,
    inFlightAtSigterm: count,
    inFlightCompleted: count,
    inFlightCut: count,
    lateArrivals: count,
    websocketsAtSigterm: count,
    /** Close codes as strings (`"1001"`), plus `"none"` for connections that ended without a close frame. */
    websocketCloses: z.record(z.string().max(8), count),
    exitCode: z.number().int().nullable(),
    killedAtGrace: z.boolean(),
    eventsDropped: count,
    /** Tunnelled TCP connections open as the app got SIGTERM. */
    tcpAtSigterm: count.optional(),
    /** Tunnelled TCP connections ended, by who ended them (`agent`: cut as the agent exited). */
    tcpCloses: z.partialRecord(z.enum(TCP_CLOSED_BY), count).optional(),
  }),
  'endpoints.propagated': z.object({
    deletionAt: isoTime,
    terminatingAt: isoTime,
    propagationMs: millis,
    via: shortText,
  }),
  'rollout.started': z.object({
    rolloutId: shortText,
    trigger: z.enum(['rehearse', 'verify', 'kubernetes', 'cli']),
    replicas: count.optional(),
    maxSurge: count.optional(),
    maxUnavailable: count.optional(),
    label: shortText.optional(),
  }),
  'rollout.finished': z.object({
    rolloutId: shortText,
    outcome: z.enum(['complete', 'failed', 'aborted']),
    podsReplaced: count,
  }),
  'probe.request': z.object({
    probeId: shortText,
    runId: shortText,
    sessionId: shortText,
    kind: z.enum(['login', 'identity', 'traffic']),
    method: z.string().max(16),
    route: shortText,
    ok: z.boolean(),
    status: z.number().int().min(100).max(599).optional(),
    error: probeErrorSchema.optional(),
    pod: shortText.optional(),
    connection: connectionSchema,
    startedAt: isoTime,
    durationMs: millis,
    retry: z.object({ ok: z.boolean(), status: z.number().int().optional() }).optional(),
    /** A gRPC call's status code (0 OK … 16 UNAUTHENTICATED); `method` is then POST, `route` `/pkg.Service/Method`. */
    grpcStatus: z.number().int().min(0).max(16).optional(),
  }),
  'probe.session': z.object({
    runId: shortText,
    sessionId: shortText,
    event: z.enum(['login', 'lost', 'end']),
    reason: probeErrorSchema.optional(),
    /** Pod that issued the session (answered the login), and the pod that answered when it was lost. */
    issuedBy: shortText.optional(),
    pod: shortText.optional(),
    probeId: shortText.optional(),
    at: isoTime,
  }),
  'probe.websocket': z.object({
    runId: shortText,
    sessionId: shortText,
    connectionId: shortText,
    event: z.enum(PROBE_WEBSOCKET_EVENTS),
    code: z.number().int().min(0).max(4999).optional(),
    pod: shortText.optional(),
    messageId: shortText.optional(),
    /** message-gap: how many sequence numbers the push skipped. */
    missed: count.optional(),
    /** What carries the connection; absent = websocket. */
    transport: z.enum(PROBE_LIVE_TRANSPORTS).optional(),
    /** stream-ended: how the stream ended. */
    end: z.enum(STREAM_ENDS).optional(),
    /** socket.io `closed`: the client's disconnect reason (`transport close`, `ping timeout`, …). */
    reason: shortText.optional(),
    /** What the evidence of a close or failed connect shows (`no-session-affinity`). */
    cause: z.enum(CAUSES).optional(),
    at: isoTime,
  }),
  'probe.summary': z.object({
    runId: shortText,
    sessions: count,
    sessionsLost: count,
    requests: count,
    failed: count,
    retriedOk: count,
    messagesSent: count,
    messagesLost: count,
    /** Lost messages sent again after a reconnect; not part of sent or lost. */
    messagesResent: count.optional(),
    /** Subscription pushes received more than once (message-duplicate); not part of sent or lost. */
    messagesDuplicated: count.optional(),
    skewRatio: z.number().nonnegative().nullable(),
    sticky: z.boolean(),
    unreliable: z.boolean(),
    maxLoopLagMs: millis,
  }),
} as const satisfies { readonly [K in EventKind]: z.ZodType };

export type EventData<K extends EventKind> = z.infer<(typeof dataSchemas)[K]>;

// The same check without relying on the literal above (a spread in it would escape the unknown-
// property check): each line fails to compile, naming the kind found on one side only.
type Never<T extends never> = T;
type _KindsWithoutSchema = Never<Exclude<EventKind, keyof typeof dataSchemas>>;
type _SchemasWithoutKind = Never<Exclude<keyof typeof dataSchemas, EventKind>>;
