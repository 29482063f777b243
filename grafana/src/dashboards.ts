import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  AnnotationQueryBuilder,
  DashboardBuilder,
  DashboardCursorSync,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { AGENT_METRICS, DRAIN_METRICS, HEALTH_METRICS, type MetricSpec } from '../../contract/index.js';
import { gaugeBy, increaseBy, quantile, rateBy } from './promql.js';

// The two dashboards as data (rows of panel specs), turned into Grafana JSON by the foundation
// SDK. Keeping the specs declarative makes the panel list easy to review next to docs/architecture.md §5.

export interface TargetSpec {
  readonly expr: string;
  readonly legend: string;
}

export interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly kind: 'timeseries' | 'stat';
  readonly unit: string;
  readonly targets: readonly TargetSpec[];
  /** Fixed axis range, e.g. [0, 1] for the scores. */
  readonly range?: readonly [number, number];
  /** Stack series (counts split by a label). */
  readonly stacked?: boolean;
  /** Grid width out of 24. */
  readonly width?: number;
  /** Stat thresholds: [value, colour] steps above the base colour. */
  readonly thresholds?: { readonly base: string; readonly steps: readonly (readonly [number, string])[] };
}

export interface RowSpec {
  readonly title: string;
  readonly panels: readonly PanelSpec[];
}

export interface DashboardSpec {
  /** File name (without `.json`) and Grafana uid. */
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly rows: readonly RowSpec[];
  /** Rollout regions drawn on every time series. */
  readonly rolloutAnnotations: boolean;
}

const WL = ['namespace', 'workload'] as const;
const WL_LEGEND = '{{namespace}}/{{workload}}';
const D = DRAIN_METRICS;
const H = HEALTH_METRICS;
const A = AGENT_METRICS;

/** The median and the 99th percentile of a histogram, legends `p50<suffix>` and `p99<suffix>`. */
function p50p99(
  metric: MetricSpec,
  by: readonly string[],
  legendSuffix: string,
  options: Parameters<typeof quantile>[3] = {},
): { expr: string; legend: string }[] {
  return [0.5, 0.99].map((q) => ({
    expr: quantile(q, metric, by, options),
    legend: `p${Math.round(q * 100)}${legendSuffix}`,
  }));
}

const RED_WHEN_POSITIVE = { base: 'green', steps: [[1, 'red']] } as const;

const score = (title: string, description: string, metric: MetricSpec): PanelSpec => ({
  title,
  description,
  kind: 'timeseries',
  unit: 'percentunit',
  range: [0, 1],
  width: 8,
  targets: [{ expr: gaugeBy('min', metric, WL), legend: WL_LEGEND }],
});

const drainQuality: DashboardSpec = {
  uid: 'drainwatch-rollout-drain-quality',
  title: 'drainwatch / Rollout drain quality',
  description:
    'Was the rollout invisible to users? Scores, failures by cause and phase, and the termination evidence per workload.',
  rolloutAnnotations: true,
  rows: [
    {
      title: 'Scores',
      panels: [
        score(
          'Session persistence',
          'Sessions active during the latest rollout that were never lost ÷ sessions active. The CI gate defaults to 100 %.',
          D.sessionPersistence,
        ),
        score(
          'Request success',
          'Probe requests of the latest rollout that succeeded without retry ÷ probe requests.',
          D.requestSuccess,
        ),
        score(
          'Clean terminations',
          'Terminations with no failed request, in-flight completed, WebSockets closed cleanly and exit before the grace period ÷ terminations.',
          D.cleanTerminations,
        ),
        {
          title: 'Gate passed (latest rollout)',
          description: '1 when the latest finished rollout passed its session-persistence gate.',
          kind: 'stat',
          unit: 'bool_yes_no',
          width: 6,
          thresholds: { base: 'red', steps: [[1, 'green']] },
          targets: [{ expr: gaugeBy('min', D.gatePassed, WL), legend: WL_LEGEND }],
        },
        {
          title: 'Pods terminating now',
          description: 'Pods between preStop start and exit.',
          kind: 'stat',
          unit: 'none',
          width: 6,
          thresholds: { base: 'green', steps: [[1, 'blue']] },
          targets: [{ expr: gaugeBy('max', D.podsTerminating, WL), legend: WL_LEGEND }],
        },
        {
          title: 'Rollouts by outcome',
          description: 'Rollouts finished in the interval, by outcome (complete, failed, aborted, timeout).',
          kind: 'timeseries',
          unit: 'none',
          stacked: true,
          width: 6,
          targets: [
            { expr: increaseBy(D.rolloutsTotal, [...WL, 'outcome']), legend: `${WL_LEGEND} {{outcome}}` },
          ],
        },
        {
          title: 'Rollout duration (p50)',
          description: 'Median duration of finished rollouts.',
          kind: 'timeseries',
          unit: 's',
          width: 6,
          targets: [{ expr: quantile(0.5, D.rolloutDuration, WL), legend: WL_LEGEND }],
        },
      ],
    },
    {
      title: 'Failed probe requests',
      panels: [
        {
          title: 'Failed probe requests by cause',
          description:
            'late-arrival, cut-in-flight, no-close-frame, session-in-memory, killed-at-grace, never-reached-pod, other.',
          kind: 'timeseries',
          unit: 'none',
          stacked: true,
          targets: [
            { expr: increaseBy(D.probeFailures, [...WL, 'cause']), legend: `${WL_LEGEND} {{cause}}` },
          ],
        },
        {
          title: 'Failed probe requests by pod phase at arrival',
          description:
            'serving, prestop, draining, exited; "unknown" when the request never reached a pod. Anything after serving is a late arrival.',
          kind: 'timeseries',
          unit: 'none',
          stacked: true,
          targets: [
            { expr: increaseBy(D.probeFailures, [...WL, 'phase']), legend: `${WL_LEGEND} {{phase}}` },
          ],
        },
        {
          title: 'Probe requests by result',
          description: 'ok, failed, retried_ok (succeeded only after a retry).',
          kind: 'timeseries',
          unit: 'none',
          stacked: true,
          targets: [
            { expr: increaseBy(D.probeRequests, [...WL, 'result']), legend: `${WL_LEGEND} {{result}}` },
          ],
        },
        {
          title: 'Client-side errors by kind',
          description: '5xx, resets, refused, timeouts, unauthorized and identity mismatches seen by probes.',
          kind: 'timeseries',
          unit: 'none',
          stacked: true,
          targets: [{ expr: increaseBy(D.clientErrors, [...WL, 'kind']), legend: `${WL_LEGEND} {{kind}}` }],
        },
        {
          title: 'Sessions lost by cause',
          description:
            'Probe sessions that got 401/403, an identity mismatch or had to log in again, next to the sessions active.',
          kind: 'timeseries',
          unit: 'none',
          targets: [
            { expr: increaseBy(D.sessionsLost, [...WL, 'cause']), legend: `lost ${WL_LEGEND} {{cause}}` },
            { expr: increaseBy(D.sessions, WL), legend: `active ${WL_LEGEND}` },
          ],
        },
        {
          title: 'Failed requests by pod (latest terminations)',
          description: 'Failed probe requests attributed to each terminated pod (expires after the report).',
          kind: 'timeseries',
          unit: 'none',
          targets: [
            { expr: gaugeBy('max', D.podFailedRequests, [...WL, 'pod']), legend: '{{namespace}}/{{pod}}' },
          ],
        },
      ],
    },
    {
      title: 'Termination',
      panels: [
        {
          title: 'In-flight requests at SIGTERM and cut at exit',
          description:
            'Requests running when the app got SIGTERM, and those still running when it exited (cut).',
          kind: 'timeseries',
          unit: 'none',
          targets: [
            { expr: increaseBy(D.inFlightAtSigterm, WL), legend: `at SIGTERM ${WL_LEGEND}` },
            { expr: increaseBy(D.inFlightCut, WL), legend: `cut ${WL_LEGEND}` },
          ],
        },
        {
          title: 'Late arrivals',
          description:
            'Requests that reached a pod after the app stopped listening: endpoint propagation was slower than preStop.',
          kind: 'timeseries',
          unit: 'none',
          targets: [{ expr: increaseBy(D.lateArrivals, WL), legend: WL_LEGEND }],
        },
        {
          title: 'Endpoint propagation',
          description: 'From pod deletion to every endpoint list marking the pod terminating (p50 and p99).',
          kind: 'timeseries',
          unit: 's',
          targets: p50p99(D.endpointPropagation, WL, ` ${WL_LEGEND}`),
        },
        {
          title: 'preStop duration by end reason',
          description: 'How long the preStop hook held SIGTERM back (p90), by why the wait ended.',
          kind: 'timeseries',
          unit: 's',
          targets: [
            { expr: quantile(0.9, D.prestopDuration, [...WL, 'reason']), legend: `${WL_LEGEND} {{reason}}` },
          ],
        },
        {
          title: 'Drain duration',
          description: 'From SIGTERM to the app exiting (p50 and p99).',
          kind: 'timeseries',
          unit: 's',
          targets: p50p99(D.drainDuration, WL, ` ${WL_LEGEND}`),
        },
        {
          title: 'Drain time by pod (latest terminations)',
          description: 'SIGTERM to exit for each recently terminated pod (expires after the report).',
          kind: 'timeseries',
          unit: 's',
          targets: [
            { expr: gaugeBy('max', D.podDrainSeconds, [...WL, 'pod']), legend: '{{namespace}}/{{pod}}' },
          ],
        },
        {
          title: 'Terminations by result',
          description: 'Clean and unclean pod terminations.',
          kind: 'timeseries',
          unit: 'none',
          stacked: true,
          targets: [
            { expr: increaseBy(D.terminations, [...WL, 'result']), legend: `${WL_LEGEND} {{result}}` },
          ],
        },
        {
          title: 'Pods killed at the grace period',
          description: 'Pods SIGKILLed at terminationGracePeriodSeconds: the drain did not finish in time.',
          kind: 'timeseries',
          unit: 'none',
          targets: [{ expr: increaseBy(D.killedAtGrace, WL), legend: WL_LEGEND }],
        },
      ],
    },
    {
      title: 'WebSockets and traffic',
      panels: [
        {
          title: 'WebSocket closes by code',
          description: '1000/1001/1012 are clean; "none" means the connection dropped without a close frame.',
          kind: 'timeseries',
          unit: 'none',
          stacked: true,
          targets: [
            { expr: increaseBy(D.websocketCloses, [...WL, 'code']), legend: `${WL_LEGEND} {{code}}` },
          ],
        },
        {
          title: 'WebSocket messages lost',
          description: 'Probe messages sent and never acknowledged, counting re-sends after reconnect.',
          kind: 'timeseries',
          unit: 'none',
          targets: [{ expr: increaseBy(D.messagesLost, WL), legend: WL_LEGEND }],
        },
        {
          title: 'Traffic skew (busiest ÷ quietest pod)',
          description: 'Probe traffic of the busiest pod divided by the quietest; 1 is perfectly even.',
          kind: 'timeseries',
          unit: 'none',
          targets: [{ expr: gaugeBy('max', D.trafficSkew, WL), legend: WL_LEGEND }],
        },
        {
          title: 'Sticky routing detected',
          description: 'Affinity cookie or sessions pinned to one pod seen by the probes.',
          kind: 'stat',
          unit: 'bool_yes_no',
          width: 6,
          thresholds: { base: 'green', steps: [[1, 'orange']] },
          targets: [{ expr: gaugeBy('max', D.stickyRouting, WL), legend: WL_LEGEND }],
        },
        {
          title: 'Pods terminating over time',
          description: 'Pods between preStop start and exit.',
          kind: 'timeseries',
          unit: 'none',
          width: 18,
          targets: [{ expr: gaugeBy('max', D.podsTerminating, WL), legend: WL_LEGEND }],
        },
      ],
    },
    {
      title: 'gRPC (what the probes saw)',
      panels: [
        {
          title: 'Probe gRPC calls by status',
          description:
            'Probe gRPC calls of each closed rollout (first attempts, baseline left out), by gRPC status; UNAVAILABLE is a call that lost its connection or found no server (docs/grpc.md).',
          kind: 'timeseries',
          unit: 'none',
          stacked: true,
          targets: [{ expr: increaseBy(D.probeGrpcCalls, [...WL, 'code']), legend: `${WL_LEGEND} {{code}}` }],
        },
        {
          title: 'Probe gRPC streams cut by cause',
          description:
            'Probe server streams ended by the server with a status other than OK, by attributed cause: no-goaway = the pod exited without GOAWAY first; stuck-connection = a connection kept on a terminating pod.',
          kind: 'timeseries',
          unit: 'none',
          stacked: true,
          targets: [
            { expr: increaseBy(D.probeGrpcStreamsCut, [...WL, 'cause']), legend: `${WL_LEGEND} {{cause}}` },
          ],
        },
      ],
    },
  ],
};

const health: DashboardSpec = {
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

/** Both dashboards, in the order they are written. */
export const DASHBOARD_SPECS: readonly DashboardSpec[] = [drainQuality, health];

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's own variable syntax, resolved by Grafana
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;

function rolloutAnnotation(): AnnotationQueryBuilder {
  // A region per rollout: Grafana joins consecutive samples of a non-empty result into one span.
  return (
    new AnnotationQueryBuilder()
      .name('Rollouts')
      .datasource(DATASOURCE)
      .enable(true)
      .iconColor('rgba(0, 211, 255, 1)')
      // max: during a gauge-lease hand-over two collector replicas may both export it (docs/scaling.md).
      .expr(`${gaugeBy('max', D.rolloutInProgress, WL)} == 1`)
      .step('15s')
      .titleFormat('Rollout {{namespace}}/{{workload}}')
      .tagKeys('namespace,workload')
  );
}

function thresholds(spec: NonNullable<PanelSpec['thresholds']>): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder()
    .mode(ThresholdsMode.Absolute)
    .steps([{ value: null, color: spec.base }, ...spec.steps.map(([value, color]) => ({ value, color }))]);
}

function targets(spec: PanelSpec, instant: boolean): DataqueryBuilder[] {
  return spec.targets.map((t, i) => {
    const q = new DataqueryBuilder()
      .refId(String.fromCharCode(65 + i))
      .datasource(DATASOURCE)
      .expr(t.expr)
      .legendFormat(t.legend);
    return instant ? q.instant() : q.range();
  });
}

function panel(spec: PanelSpec, id: number): TimeseriesPanelBuilder | StatPanelBuilder {
  if (spec.kind === 'stat') {
    const p = new StatPanelBuilder()
      .id(id)
      .title(spec.title)
      .description(spec.description)
      .datasource(DATASOURCE)
      .unit(spec.unit)
      .height(6)
      .span(spec.width ?? 12)
      .graphMode(common.BigValueGraphMode.None)
      .colorMode(common.BigValueColorMode.Background)
      .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
      .targets(targets(spec, true));
    return spec.thresholds ? p.thresholds(thresholds(spec.thresholds)) : p;
  }
  let p = new TimeseriesPanelBuilder()
    .id(id)
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .height(8)
    .span(spec.width ?? 12)
    .fillOpacity(spec.stacked ? 60 : 10)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom),
    )
    .tooltip(
      new common.VizTooltipOptionsBuilder()
        .mode(common.TooltipDisplayMode.Multi)
        .sort(common.SortOrder.Descending),
    )
    .targets(targets(spec, false));
  if (spec.range) p = p.min(spec.range[0]).max(spec.range[1]);
  if (spec.stacked) p = p.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  if (spec.thresholds) p = p.thresholds(thresholds(spec.thresholds));
  return p;
}

function variables(): (DatasourceVariableBuilder | QueryVariableBuilder)[] {
  const namespace = new QueryVariableBuilder('namespace')
    .label('Namespace')
    .datasource(DATASOURCE)
    .query(`label_values(${D.rolloutInProgress.name}, namespace)`)
    .definition(`label_values(${D.rolloutInProgress.name}, namespace)`)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ text: 'All', value: '$__all' });
  const workloadQuery = `label_values(${D.rolloutInProgress.name}{namespace=~"$namespace"}, workload)`;
  const workload = new QueryVariableBuilder('workload')
    .label('Workload')
    .datasource(DATASOURCE)
    .query(workloadQuery)
    .definition(workloadQuery)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ text: 'All', value: '$__all' });
  return [
    new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'),
    namespace,
    workload,
  ];
}

function build(spec: DashboardSpec): object {
  const d = new DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags(['drainwatch', 'generated'])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh('30s')
    .time({ from: 'now-3h', to: 'now' })
    .timezone('browser')
    .variables(variables());
  if (spec.rolloutAnnotations) d.annotation(rolloutAnnotation());
  let id = 1;
  for (const row of spec.rows) {
    d.withRow(new RowBuilder(row.title).id(id++));
    for (const p of row.panels) d.withPanel(panel(p, id++));
  }
  return d.build();
}

/** Every dashboard as Grafana JSON, keyed by file name without `.json` (also its uid). */
export function buildDashboards(): Record<string, object> {
  return Object.fromEntries(DASHBOARD_SPECS.map((spec) => [spec.uid, build(spec)]));
}

/** The exact bytes committed under grafana/dashboards/, keyed by file name. */
export function renderDashboardFiles(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(buildDashboards()).map(([name, json]) => [
      `${name}.json`,
      `${JSON.stringify(json, null, 2)}\n`,
    ]),
  );
}
