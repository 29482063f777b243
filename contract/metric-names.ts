// drainwatch's metric catalogue (collector and agent): names, types, labels and help text. The collector builds its
// prom-client metrics from this table and the Grafana generator and alert rules read the same
// names, so a rename here is a breaking change for dashboards and alerts (docs/architecture.md §3).
//
// Labels: namespace and workload everywhere; never a request, session or client id. Only the
// `drainwatch_pod_*` series carry a pod label, and they expire after a termination has been
// reported (collector setting), so pod churn cannot grow the series count without bound.

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricSpec {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly string[];
  readonly buckets?: readonly number[];
}

const WL = ['namespace', 'workload'] as const;
const SECONDS_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 10, 15, 20, 30, 45, 60, 90, 120] as const;

export const DRAIN_METRICS = {
  rolloutsTotal: {
    name: 'drainwatch_rollouts_total',
    type: 'counter',
    help: 'Rollouts observed, by outcome (complete, failed, aborted, timeout).',
    labels: [...WL, 'outcome'],
  },
  rolloutInProgress: {
    name: 'drainwatch_rollout_in_progress',
    type: 'gauge',
    help: '1 while a rollout of the workload is open, else 0.',
    labels: WL,
  },
  rolloutDuration: {
    name: 'drainwatch_rollout_duration_seconds',
    type: 'histogram',
    help: 'Duration of finished rollouts.',
    labels: WL,
    buckets: [5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600],
  },
  sessionPersistence: {
    name: 'drainwatch_session_persistence_ratio',
    type: 'gauge',
    help: 'Sessions active during the latest rollout that were never lost, divided by sessions active.',
    labels: WL,
  },
  requestSuccess: {
    name: 'drainwatch_request_success_ratio',
    type: 'gauge',
    help: 'Probe requests of the latest rollout that succeeded without retry, divided by probe requests.',
    labels: WL,
  },
  cleanTerminations: {
    name: 'drainwatch_clean_terminations_ratio',
    type: 'gauge',
    help: 'Pod terminations of the latest rollout that were clean, divided by terminations.',
    labels: WL,
  },
  gatePassed: {
    name: 'drainwatch_gate_passed',
    type: 'gauge',
    help: '1 when the latest finished rollout passed its session-persistence gate, else 0.',
    labels: WL,
  },
  probeRequests: {
    name: 'drainwatch_probe_requests_total',
    type: 'counter',
    help: 'Probe requests during rollouts, by result (ok, failed, retried_ok).',
    labels: [...WL, 'result'],
  },
  probeFailures: {
    name: 'drainwatch_probe_request_failures_total',
    type: 'counter',
    help: 'Failed probe requests, by attributed cause and the pod phase at arrival (unknown when it never reached a pod).',
    labels: [...WL, 'cause', 'phase'],
  },
  clientErrors: {
    name: 'drainwatch_client_errors_total',
    type: 'counter',
    help: 'Errors seen by probe clients, by kind (5xx, reset, refused, timeout, unauthorized, identity-mismatch, other).',
    labels: [...WL, 'kind'],
  },
  sessions: {
    name: 'drainwatch_probe_sessions_total',
    type: 'counter',
    help: 'Probe sessions active during rollouts.',
    labels: WL,
  },
  sessionsLost: {
    name: 'drainwatch_probe_sessions_lost_total',
    type: 'counter',
    help: 'Probe sessions lost (401/403, identity mismatch or forced re-login), by cause.',
    labels: [...WL, 'cause'],
  },
  inFlightAtSigterm: {
    name: 'drainwatch_inflight_at_sigterm_requests_total',
    type: 'counter',
    help: 'Requests in flight when the app got SIGTERM, summed over terminations.',
    labels: WL,
  },
  inFlightCut: {
    name: 'drainwatch_inflight_cut_requests_total',
    type: 'counter',
    help: 'In-flight requests cut when the app exited.',
    labels: WL,
  },
  lateArrivals: {
    name: 'drainwatch_late_arrivals_total',
    type: 'counter',
    help: 'Requests that reached a pod after it left the serving phase and failed because the app no longer listened.',
    labels: WL,
  },
  endpointPropagation: {
    name: 'drainwatch_endpoint_propagation_seconds',
    type: 'histogram',
    help: 'From pod deletion to every endpoint list marking the pod terminating.',
    labels: WL,
    buckets: SECONDS_BUCKETS,
  },
  prestopDuration: {
    name: 'drainwatch_prestop_duration_seconds',
    type: 'histogram',
    help: 'preStop wait durations, by why the wait ended.',
    labels: [...WL, 'reason'],
    buckets: SECONDS_BUCKETS,
  },
  drainDuration: {
    name: 'drainwatch_drain_duration_seconds',
    type: 'histogram',
    help: 'From SIGTERM to the app exiting.',
    labels: WL,
    buckets: SECONDS_BUCKETS,
  },
  websocketCloses: {
    name: 'drainwatch_websocket_closes_total',
    type: 'counter',
    help: 'WebSocket closes seen by agents during terminations, by close code ("none" when no close frame was sent).',
    labels: [...WL, 'code'],
  },
  messagesLost: {
    name: 'drainwatch_websocket_messages_lost_total',
    type: 'counter',
    help: 'Probe WebSocket messages sent and never acknowledged, counting re-sends after reconnect.',
    labels: WL,
  },
  probeGrpcCalls: {
    name: 'drainwatch_probe_grpc_calls_total',
    type: 'counter',
    help: 'Probe gRPC calls during rollouts (first attempts), by the status they ended with (gRPC status code name: OK, UNAVAILABLE, ...).',
    labels: [...WL, 'code'],
  },
  probeGrpcStreamsCut: {
    name: 'drainwatch_probe_grpc_streams_cut_total',
    type: 'counter',
    help: 'Probe gRPC server streams the server side cut (any status but OK) during rollouts, by attributed cause.',
    labels: [...WL, 'cause'],
  },
  trafficSkew: {
    name: 'drainwatch_traffic_skew_ratio',
    type: 'gauge',
    help: 'Probe traffic of the busiest pod divided by that of the quietest, over the latest window.',
    labels: WL,
  },
  stickyRouting: {
    name: 'drainwatch_sticky_routing_detected',
    type: 'gauge',
    help: '1 when probes detected sticky routing (affinity cookie or sessions pinned to one pod), else 0.',
    labels: WL,
  },
  podsTerminating: {
    name: 'drainwatch_pods_terminating',
    type: 'gauge',
    help: 'Pods between preStop start and exit now.',
    labels: WL,
  },
  terminations: {
    name: 'drainwatch_pod_terminations_total',
    type: 'counter',
    help: 'Pod terminations, by result (clean, unclean).',
    labels: [...WL, 'result'],
  },
  killedAtGrace: {
    name: 'drainwatch_pods_killed_at_grace_total',
    type: 'counter',
    help: 'Pods SIGKILLed at terminationGracePeriodSeconds.',
    labels: WL,
  },
  agentEventsDropped: {
    name: 'drainwatch_agent_reported_drops_total',
    type: 'counter',
    help: 'Events agents dropped from a full buffer, as they reported it.',
    labels: WL,
  },
  podDrainSeconds: {
    name: 'drainwatch_pod_drain_seconds',
    type: 'gauge',
    help: 'Per termination (expires): from SIGTERM to exit of this pod.',
    labels: [...WL, 'pod'],
  },
  podFailedRequests: {
    name: 'drainwatch_pod_failed_requests',
    type: 'gauge',
    help: 'Per termination (expires): failed probe requests attributed to this pod.',
    labels: [...WL, 'pod'],
  },
} as const satisfies Record<string, MetricSpec>;

export const HEALTH_METRICS = {
  eventsReceived: {
    name: 'drainwatch_events_received_total',
    type: 'counter',
    help: 'Events taken from JetStream, by kind (invalid ones as "invalid").',
    labels: ['kind'],
  },
  eventsInvalid: {
    name: 'drainwatch_events_invalid_total',
    type: 'counter',
    help: 'Events refused by the contract, by reason (the error code).',
    labels: ['reason'],
  },
  eventsApplied: {
    name: 'drainwatch_events_applied_total',
    type: 'counter',
    help: 'Events applied to Redis (first delivery only).',
    labels: [],
  },
  eventsDuplicate: {
    name: 'drainwatch_events_duplicate_total',
    type: 'counter',
    help: 'Redelivered events recognised by id and not applied again.',
    labels: [],
  },
  eventsReplayed: {
    name: 'drainwatch_events_replayed_total',
    type: 'counter',
    help: 'Events this collector had acknowledged, applied again from the stream after Redis came back (--redis-replay-window): "restored" were missing (Redis had lost them), "present" were stored already.',
    labels: ['result'],
  },
  ingestLag: {
    name: 'drainwatch_ingest_lag_seconds',
    type: 'histogram',
    help: 'From an event time to it being applied.',
    labels: [],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  },
  consumerPending: {
    name: 'drainwatch_consumer_pending_messages',
    type: 'gauge',
    help: "Messages in the stream not yet delivered to this collector's consumer.",
    labels: [],
  },
  redisErrors: {
    name: 'drainwatch_redis_errors_total',
    type: 'counter',
    help: 'Redis commands that failed.',
    labels: [],
  },
  redisUp: {
    name: 'drainwatch_redis_up',
    type: 'gauge',
    help: '1 when Redis answers, else 0.',
    labels: [],
  },
  natsUp: {
    name: 'drainwatch_nats_up',
    type: 'gauge',
    help: '1 when connected to NATS, else 0.',
    labels: [],
  },
  evidenceIncomplete: {
    name: 'drainwatch_evidence_incomplete_pods_total',
    type: 'counter',
    help: 'Pods whose event seq had a gap, so their evidence is incomplete.',
    labels: ['namespace', 'workload'],
  },
} as const satisfies Record<string, MetricSpec>;

// The agent's own /metrics (scraped while the pod lives). Listed here so dashboards and alerts
// have one place to read every drainwatch metric name from.
export const AGENT_METRICS = {
  requests: {
    name: 'drainwatch_agent_requests_total',
    type: 'counter',
    help: 'Requests proxied, by arrival phase and status class (2xx..5xx, or error).',
    labels: ['phase', 'status_class'],
  },
  inFlight: {
    name: 'drainwatch_agent_requests_in_flight',
    type: 'gauge',
    help: 'Requests in flight through the agent.',
    labels: [],
  },
  websockets: {
    name: 'drainwatch_agent_websockets_open',
    type: 'gauge',
    help: 'WebSockets open through the agent.',
    labels: [],
  },
  eventsPublished: {
    name: 'drainwatch_agent_events_published_total',
    type: 'counter',
    help: 'Events acknowledged by JetStream.',
    labels: [],
  },
  eventsBuffered: {
    name: 'drainwatch_agent_events_buffered',
    type: 'gauge',
    help: 'Events waiting for NATS.',
    labels: [],
  },
  eventsDropped: {
    name: 'drainwatch_agent_events_dropped_total',
    type: 'counter',
    help: 'Events dropped from a full buffer, by kind.',
    labels: ['kind'],
  },
  badRequests: {
    name: 'drainwatch_agent_bad_requests_total',
    type: 'counter',
    help: 'Malformed client HTTP answered 400.',
    labels: [],
  },
  upstreamInvalid: {
    name: 'drainwatch_agent_upstream_invalid_responses_total',
    type: 'counter',
    help: 'App responses the agent could not relay and answered 502, by reason (header-overflow, malformed).',
    labels: ['reason'],
  },
  tcpOpen: {
    name: 'drainwatch_agent_tcp_connections_open',
    type: 'gauge',
    help: 'Connections tunnelled as TCP (not HTTP/1.x: HTTP/2, TLS, NATS, Redis, ...) open through the agent.',
    labels: [],
  },
  tcpClosed: {
    name: 'drainwatch_agent_tcp_connections_closed_total',
    type: 'counter',
    help: 'Tunnelled TCP connections ended, by who ended them (client, app, agent, refused) and the phase then.',
    labels: ['closed_by', 'phase'],
  },
  h2Goaway: {
    name: 'drainwatch_agent_h2_goaway_total',
    type: 'counter',
    help: 'HTTP/2 GOAWAY frames sent to clients, by sender (agent: its graceful two-step drain; app: passed on) and error code.',
    labels: ['sender', 'code'],
  },
  h2Streams: {
    name: 'drainwatch_agent_h2_streams_total',
    type: 'counter',
    help: 'HTTP/2 streams (gRPC calls) ended, by the pod phase at their arrival and their outcome (ok, http-error, upstream-reset: cut, upstream-refused, client-aborted).',
    labels: ['phase', 'outcome'],
  },
} as const satisfies Record<string, MetricSpec>;

/**
 * gRPC status code names by number, as the gRPC spec spells them (grpc/grpc doc/statuscodes.md):
 * the `code` label of `drainwatch_probe_grpc_calls_total`. A number outside the table (a server
 * sending a code the spec does not define) is labelled by its number.
 */
export const GRPC_STATUS_NAMES: readonly string[] = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

/** The spec's name of a gRPC status code (`14` → `UNAVAILABLE`); the number itself when unknown. */
export function grpcStatusName(code: number | string): string {
  const n = Number(code);
  return (Number.isInteger(n) ? GRPC_STATUS_NAMES[n] : undefined) ?? String(code);
}
