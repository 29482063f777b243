// The zod-free facts of the event contract: which event kinds exist, the closed lists their
// payloads are built from, and how a kind maps to its CloudEvents `type`. The agent (a sidecar with
// a tight memory budget) loads only this, never the zod schemas of events.ts, which are built from
// these lists; events.ts fails to compile when its schemas and EVENT_KINDS disagree.

/** Every event kind, in the order of the schemas in events.ts. */
export const EVENT_KINDS = [
  'agent.started',
  'prestop.started',
  'prestop.finished',
  'sigterm',
  'app.stopped-listening',
  'app.exited',
  'agent.listener',
  'request',
  'request.batch',
  'websocket.opened',
  'websocket.closed',
  'traffic.summary',
  'drain.summary',
  'endpoints.propagated',
  'rollout.started',
  'rollout.finished',
  'probe.request',
  'probe.session',
  'probe.websocket',
  'probe.summary',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export const PHASES = ['serving', 'prestop', 'draining', 'exited'] as const;
export type Phase = (typeof PHASES)[number];

/** Why a preStop wait ended. `endpoints-terminating` is fed by the Kubernetes adapter. */
export const PRESTOP_END_REASONS = [
  'fixed-elapsed',
  'quiet',
  'max',
  'endpoints-terminating',
  'app-exited',
  'agent-stopping',
] as const;
export type PrestopEndReason = (typeof PRESTOP_END_REASONS)[number];

/** What happened to a request, seen from the agent. */
export const REQUEST_OUTCOMES = [
  'ok',
  'http-error',
  'upstream-refused',
  'upstream-reset',
  'upstream-timeout',
  /** The app's response could not be relayed (a head over the agent's limit, malformed HTTP): 502. */
  'upstream-invalid',
  'client-aborted',
  'bad-request',
] as const;
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];

/** What went wrong for a probe, seen from the client. */
export const PROBE_ERRORS = [
  'refused',
  'reset',
  'timeout',
  '5xx',
  'unauthorized',
  'identity-mismatch',
  'other',
] as const;
export type ProbeError = (typeof PROBE_ERRORS)[number];

/**
 * What a probe reports of its WebSockets. `message-lost`: no pod acknowledged the message before
 * the connection it was sent on ended (or within the ack timeout), once per correlation id.
 * `message-resent`: a lost message sent again on a new connection, counted apart from losses.
 * `message-gap`: a subscription's push skipped sequence numbers (`missed` of them, lost);
 * `message-duplicate`: a push at or below the highest sequence number the session had seen.
 */
export const PROBE_WEBSOCKET_EVENTS = [
  'opened',
  'closed',
  'message-lost',
  'message-resent',
  'message-gap',
  'message-duplicate',
  'stream-ended',
] as const;
export type ProbeWebsocketEvent = (typeof PROBE_WEBSOCKET_EVENTS)[number];

/**
 * What carries a probe's live connection (`probe.websocket` events; absent = `websocket`):
 * a WebSocket, a Server-Sent Events stream (HTML Living Standard §9.2), a Socket.IO session, or
 * a gRPC server-streaming call (its `stream-ended` `end`: `server-closed` = status OK, `cut` = any other).
 */
export const PROBE_LIVE_TRANSPORTS = ['websocket', 'sse', 'socket.io', 'grpc'] as const;
export type ProbeLiveTransport = (typeof PROBE_LIVE_TRANSPORTS)[number];

/**
 * How an SSE stream the probe did not close ended (`stream-ended`): `server-closed` when the
 * response ended properly (the chunked body's last chunk), `cut` when the connection broke
 * mid-body (reset, or closed without the last chunk, as at a process exit).
 */
export const STREAM_ENDS = ['server-closed', 'cut'] as const;
export type StreamEnd = (typeof STREAM_ENDS)[number];

/**
 * Causes a failed probe request or a lost session can be attributed to (docs/architecture.md §4;
 * the counting rules are in docs/collector.md). `session-not-shared`: a replica refused a session
 * another, still serving, replica issued — the app loses sessions even without a rollout.
 * `no-session-affinity`: a stateful transport's request (Socket.IO/Engine.IO long-polling) was
 * routed, without session affinity, to a replica that does not know its session (HTTP 400
 * "Session ID unknown"). `stale-keepalive`: a request sent on a reused keep-alive connection
 * that the server side (an entry point closing idle client connections, e.g. at an nginx reload)
 * closed before any response header came back, and that no pod saw; RFC 9112 §9.3.1 lets a client
 * retry such an idempotent request, and browsers do, but it failed here. `no-goaway`: an HTTP/2
 * (gRPC) stream cut because its connection closed with it open and no GOAWAY had reached the
 * client (RFC 9113 §6.8), or a call lost while the client reconnected after such a cut.
 * `stuck-connection`: such a cut stream that started after its pod's termination began, on a
 * connection opened before: the client kept using the old pod until its exit, as per-connection
 * balancing does without a GOAWAY.
 */
export const CAUSES = [
  'late-arrival',
  'cut-in-flight',
  'no-close-frame',
  'session-in-memory',
  'session-not-shared',
  'killed-at-grace',
  'never-reached-pod',
  'no-session-affinity',
  'stale-keepalive',
  'no-goaway',
  'stuck-connection',
  'other',
] as const;
export type Cause = (typeof CAUSES)[number];

/**
 * Who ended a tunnelled TCP connection (traffic the agent does not parse): the client, the app,
 * the agent (cut as it exited), or nobody because the app refused the connect.
 */
export const TCP_CLOSED_BY = ['client', 'app', 'agent', 'refused'] as const;
export type TcpClosedBy = (typeof TCP_CLOSED_BY)[number];

/**
 * How a WebSocket ended when its pod terminated: `clean` (close code 1001 or 1012),
 * `normal-close-at-shutdown` (1000, which clients read as "done, do not reconnect"),
 * `no-close-frame` (none, 1006), `killed-at-grace` (cut by the SIGKILL at the grace period),
 * `other-code` (any other close code).
 */
export const WEBSOCKET_OUTCOMES = [
  'clean',
  'normal-close-at-shutdown',
  'no-close-frame',
  'killed-at-grace',
  'other-code',
] as const;
export type WebSocketOutcome = (typeof WEBSOCKET_OUTCOMES)[number];

/**
 * The key a WebSocket close is counted under, the same for the agent's drain summary
 * (`websocketCloses`) and the collector's report: the close code; `1005` for a close frame that
 * carried none (RFC 6455 §7.1.5, "no status code was actually present": Engine.IO, and so every
 * Socket.IO WebSocket, closes that way); `none` without a close frame (1006 at the peer).
 */
export function websocketCloseKey(close: {
  readonly closeFrame: boolean;
  readonly code?: number | undefined;
}): string {
  if (!close.closeFrame) return 'none';
  return close.code === undefined ? '1005' : String(close.code);
}

/**
 * The most `request` records one `request.batch` event carries (schema 1.1). An agent batches the
 * records that end within a short window into one message, so the collector pays the per-message
 * costs (JetStream delivery and ack, the envelope, the idempotency key, one timeline entry) once
 * per batch; docs/scaling.md has the figures. The event's 64 KiB limit (MAX_EVENT_BYTES) bounds a
 * batch too.
 */
export const MAX_REQUEST_BATCH_RECORDS = 100;

/** Whether a request or probe used a fresh connection or a kept-alive one. */
export const CONNECTIONS = ['new', 'reused'] as const;

/** Kinds that describe the pod's life; a full buffer drops traffic summaries, never these. */
export const LIFECYCLE_KINDS: ReadonlySet<EventKind> = new Set<EventKind>([
  'agent.started',
  'prestop.started',
  'prestop.finished',
  'sigterm',
  'app.stopped-listening',
  'app.exited',
  'agent.listener',
  'drain.summary',
]);

// CloudEvents `type` for each kind. Pod-scoped kinds live under `dev.drainwatch.pod.`.
const TYPE_PREFIX = 'dev.drainwatch.';
const POD_SCOPED: ReadonlySet<EventKind> = new Set<EventKind>([
  'prestop.started',
  'prestop.finished',
  'sigterm',
  'app.stopped-listening',
  'app.exited',
  'agent.listener',
  'request',
  'request.batch',
  'websocket.opened',
  'websocket.closed',
  'traffic.summary',
  'drain.summary',
  'endpoints.propagated',
]);

export function cloudEventType(kind: EventKind): string {
  return TYPE_PREFIX + (POD_SCOPED.has(kind) ? 'pod.' : '') + kind;
}

const kindByType = new Map<string, EventKind>(EVENT_KINDS.map((k) => [cloudEventType(k), k]));

export function kindOfType(type: string): EventKind | undefined {
  return kindByType.get(type);
}

export function isPodScoped(kind: EventKind): boolean {
  return POD_SCOPED.has(kind);
}
