import { A, D, type DashboardSpec, H, p50p99, RED_WHEN_POSITIVE, WL, WL_LEGEND } from './dashboard-spec.js';
import { gaugeBy, increaseBy, rateBy } from './promql.js';

// The "health" dashboard: is drainwatch itself healthy (the collector's intake, its dependencies,
// the agents' buffers).

export const health: DashboardSpec = {
  uid: 'drainwatch-health',
  title: 'drainwatch / health',
  description:
    "Is drainwatch itself healthy: the collector's intake, its dependencies and the agents' buffers.",
  rolloutAnnotations: true,
  rows: [
    {
      title: 'Collector intake',
      panels: [
        {
          title: 'Events received per second by kind',
          description: 'Events taken from JetStream ("invalid" for refused ones).',
          kind: 'timeseries',
          unit: 'ops',
          stacked: true,
          targets: [{ expr: rateBy(H.eventsReceived, ['kind'], { scope: 'none' }), legend: '{{kind}}' }],
        },
        {
          title: 'Events applied and duplicates per second',
          description: 'First deliveries applied to Redis, and redeliveries recognised by id.',
          kind: 'timeseries',
          unit: 'ops',
          targets: [
            {
              expr: rateBy(H.eventsApplied, ['instance'], { scope: 'none' }),
              legend: 'applied {{instance}}',
            },
            {
              expr: rateBy(H.eventsDuplicate, ['instance'], { scope: 'none' }),
              legend: 'duplicate {{instance}}',
            },
          ],
        },
        {
          title: 'Invalid events by reason',
          description: 'Events refused by the contract per interval, by error code.',
          kind: 'timeseries',
          unit: 'none',
          stacked: true,
          targets: [
            { expr: increaseBy(H.eventsInvalid, ['reason'], { scope: 'none' }), legend: '{{reason}}' },
          ],
        },
        {
          title: 'Ingest lag',
          description: 'From event time to being applied (p50 and p99).',
          kind: 'timeseries',
          unit: 's',
          targets: p50p99(H.ingestLag, [], '', { scope: 'none' }),
        },
        {
          title: 'Consumer pending messages',
          description: "Messages in the stream not yet delivered to each collector's consumer.",
          kind: 'timeseries',
          unit: 'none',
          targets: [
            {
              expr: gaugeBy('max', H.consumerPending, ['instance'], { scope: 'none' }),
              legend: '{{instance}}',
            },
          ],
        },
        {
          title: 'Events replayed after a Redis loss',
          description:
            'Events a collector had acknowledged, applied again from the stream once Redis was back (--redis-replay-window): "restored" were missing (Redis had lost acknowledged writes: a failover or a crash), "present" were stored already.',
          kind: 'timeseries',
          unit: 'none',
          stacked: true,
          targets: [
            { expr: increaseBy(H.eventsReplayed, ['result'], { scope: 'none' }), legend: '{{result}}' },
          ],
        },
        {
          title: 'Pods with incomplete evidence',
          description: 'Pods whose event seq had a gap (events lost between agent and collector).',
          kind: 'timeseries',
          unit: 'none',
          targets: [{ expr: increaseBy(H.evidenceIncomplete, WL), legend: WL_LEGEND }],
        },
      ],
    },
    {
      title: 'Dependencies',
      panels: [
        {
          title: 'Redis errors per second',
          description: 'Redis commands that failed.',
          kind: 'timeseries',
          unit: 'ops',
          width: 12,
          targets: [{ expr: rateBy(H.redisErrors, ['instance'], { scope: 'none' }), legend: '{{instance}}' }],
        },
        {
          title: 'Redis up',
          description: '1 when every collector reaches Redis.',
          kind: 'stat',
          unit: 'bool_yes_no',
          width: 6,
          thresholds: { base: 'red', steps: [[1, 'green']] },
          targets: [{ expr: gaugeBy('min', H.redisUp, [], { scope: 'none' }), legend: 'redis' }],
        },
        {
          title: 'NATS up',
          description: '1 when every collector is connected to NATS.',
          kind: 'stat',
          unit: 'bool_yes_no',
          width: 6,
          thresholds: { base: 'red', steps: [[1, 'green']] },
          targets: [{ expr: gaugeBy('min', H.natsUp, [], { scope: 'none' }), legend: 'nats' }],
        },
      ],
    },
    {
      title: 'Agents',
      panels: [
        {
          title: 'Agent events buffered',
          description: 'Events waiting in agents for NATS (agents scraped while alive).',
          kind: 'timeseries',
          unit: 'none',
          targets: [
            {
              expr: gaugeBy('sum', A.eventsBuffered, ['namespace', 'instance'], { scope: 'namespace' }),
              legend: '{{namespace}} {{instance}}',
            },
          ],
        },
        {
          title: 'Agent events dropped',
          description:
            'Drops reported to the collector (survive the pod) and, while agents live, their own counters by kind.',
          kind: 'timeseries',
          unit: 'none',
          thresholds: RED_WHEN_POSITIVE,
          targets: [
            { expr: increaseBy(D.agentEventsDropped, WL), legend: `reported ${WL_LEGEND}` },
            {
              expr: increaseBy(A.eventsDropped, ['kind'], { scope: 'namespace' }),
              legend: 'scraped {{kind}}',
            },
          ],
        },
        {
          title: 'Agent events published per second',
          description: 'Events acknowledged by JetStream.',
          kind: 'timeseries',
          unit: 'ops',
          targets: [
            {
              expr: rateBy(A.eventsPublished, ['namespace'], { scope: 'namespace' }),
              legend: '{{namespace}}',
            },
          ],
        },
        {
          title: 'Agent proxied requests by phase and status',
          description: 'Requests through the agents by arrival phase and status class.',
          kind: 'timeseries',
          unit: 'reqps',
          stacked: true,
          targets: [
            {
              expr: rateBy(A.requests, ['phase', 'status_class'], { scope: 'namespace' }),
              legend: '{{phase}} {{status_class}}',
            },
          ],
        },
        {
          title: 'HTTP/2 streams (gRPC calls) by outcome and phase',
          description:
            'HTTP/2 streams ended through the agents, by outcome and the pod phase at their arrival; upstream-reset is a call cut by the app (UNAVAILABLE at the client).',
          kind: 'timeseries',
          unit: 'none',
          stacked: true,
          targets: [
            {
              expr: increaseBy(A.h2Streams, ['outcome', 'phase'], { scope: 'namespace' }),
              legend: '{{outcome}} {{phase}}',
            },
          ],
        },
        {
          title: 'HTTP/2 GOAWAY sent by sender',
          description:
            'GOAWAY frames sent to clients: agent = its graceful two-step drain, app = passed on from the app; by error code.',
          kind: 'timeseries',
          unit: 'none',
          targets: [
            {
              expr: increaseBy(A.h2Goaway, ['sender', 'code'], { scope: 'namespace' }),
              legend: '{{sender}} {{code}}',
            },
          ],
        },
      ],
    },
  ],
};
