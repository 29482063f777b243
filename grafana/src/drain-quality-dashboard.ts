import { D, type DashboardSpec, p50p99, score, WL, WL_LEGEND } from './dashboard-spec.js';
import { gaugeBy, increaseBy, quantile } from './promql.js';

// The "Rollout drain quality" dashboard: what users saw during rollouts, workload by workload.

export const drainQuality: DashboardSpec = {
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
