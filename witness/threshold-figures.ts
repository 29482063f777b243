import { PROBE_ERROR_KINDS } from '../collector/report-types.js';
import { CAUSES, PHASES, PROBE_ERRORS, STREAM_ENDS, WEBSOCKET_OUTCOMES } from '../contract/index.js';
import type { Figure, FigureCatalogue, FigureKind } from './thresholds.js';

// The figures a threshold may name: every number of the rollout report's JSON (`report --json`,
// and the `report` of `rehearse --json`/`verify --json`), and of the probe's summary (`probe
// --json`), each by its exact path. test/unit/witness-thresholds.test.ts checks each list against
// a real report and summary both ways, so a figure added to either shows up here or fails it.
// Left out: maps whose keys are open-ended (WebSocket close codes, preStop end reasons, requests
// per pod) and the per-pod and per-failure lists.

const FAILURE_PHASES = [...PHASES, 'unknown'] as const;

function each(kind: FigureKind, prefix: string, keys: readonly string[]): Figure[] {
  return keys.map((k) => ({ name: prefix ? `${prefix}.${k}` : k, kind }));
}

/** A distribution of durations: samples and its percentiles in ms. */
function durations(prefix: string, stats: readonly string[]): Figure[] {
  return [{ name: `${prefix}.samples`, kind: 'count' }, ...each('ms', prefix, stats)];
}

const LATENCY = ['p50Ms', 'p95Ms', 'p99Ms', 'maxMs'] as const;

/** `latency.p99` (k6's and the issue's spelling) names `latency.p99Ms`; the unit stays ms. */
const LATENCY_ALIASES: Readonly<Record<string, string>> = Object.fromEntries(
  LATENCY.map((k) => [`latency.${k.replace(/Ms$/, '')}`, `latency.${k}`]),
);

/** The rollout report (collector/report-types.ts RolloutReport). */
export const REPORT_FIGURES: FigureCatalogue = {
  subject: 'the rollout report',
  figures: [
    { name: 'durationSeconds', kind: 'seconds' },
    { name: 'podsReplaced', kind: 'count' },
    ...each('ratio', 'scores', ['sessionPersistence', 'requestSuccess', 'cleanTerminations']),
    ...each('count', 'sessions', ['active', 'lost']),
    ...each('count', 'sessions.lostByCause', CAUSES),
    ...each('count', 'baseline', ['requests', 'failed', 'sessionsLost']),
    ...each('count', 'baseline.failedByCause', CAUSES),
    ...each('count', 'baseline.sessionsLostByCause', CAUSES),
    ...each('count', 'probeRequests', ['total', 'ok', 'failed', 'retriedOk']),
    ...each('count', 'failedByCause', CAUSES),
    ...each('count', 'failedByPhase', FAILURE_PHASES),
    ...each('count', 'clientErrors', PROBE_ERROR_KINDS),
    ...each('count', '', ['inFlightAtSigterm', 'inFlightCut', 'inFlightLost', 'lateArrivals']),
    ...each('count', 'healthChecks', ['requests', 'failed']),
    ...each('count', 'agentFailedRequests', PHASES),
    { name: 'agentEventsDropped', kind: 'count' },
    ...durations('latency', LATENCY),
    ...durations('endpointPropagation', ['p50Ms', 'maxMs']),
    ...durations('prestop', ['p50Ms', 'maxMs']),
    ...durations('drain', ['p50Ms', 'maxMs']),
    ...each('count', 'websocketOutcomes.atTermination', WEBSOCKET_OUTCOMES),
    ...each('count', 'websocketOutcomes.probe', WEBSOCKET_OUTCOMES),
    ...each('count', '', ['websocketsDropped', 'messagesLost', 'messagesResent', 'messagesDuplicated']),
    ...each('count', 'streamEnds', STREAM_ENDS),
    ...each('count', 'streamEndsAtTermination', STREAM_ENDS),
    { name: 'messagesLostAtTermination', kind: 'count' },
    { name: 'trafficSkew', kind: 'number' },
  ],
  // The scores by their own names, as the probe's summary has them.
  aliases: {
    sessionPersistence: 'scores.sessionPersistence',
    requestSuccess: 'scores.requestSuccess',
    cleanTerminations: 'scores.cleanTerminations',
    ...LATENCY_ALIASES,
  },
};

/** The probe's summary (probe/types.ts ProbeSummary). */
export const PROBE_FIGURES: FigureCatalogue = {
  subject: 'the probe summary',
  figures: [
    ...each('ratio', '', ['sessionPersistence', 'requestSuccess']),
    ...each('count', '', [
      'sessions',
      'sessionsStarted',
      'sessionsOk',
      'sessionsLost',
      'losses',
      'requests',
      'failed',
      'retried',
      'retriedOk',
    ]),
    ...each('count', 'lossesByReason', PROBE_ERRORS),
    ...each('count', 'errorsByKind', PROBE_ERRORS),
    ...each('count', 'connections', ['new', 'reused']),
    ...each('count', 'websockets', [
      'sessions',
      'connections',
      'connectFailures',
      'messagesSent',
      'messagesAcked',
      'messagesLost',
      'resent',
      'messagesReceived',
      'messagesDuplicated',
    ]),
    ...each('count', 'websockets.streamEnds', STREAM_ENDS),
    ...durations('latency', LATENCY),
    ...each('number', '', ['maxSkewRatio', 'runSkewRatio']),
    ...each('ms', '', ['maxLoopLagMs', 'rampMaxLoopLagMs']),
    ...each('count', '', ['eventsPublished', 'eventsDropped']),
  ],
  // The report's names of the same scores, so one --threshold fits both.
  aliases: {
    'scores.sessionPersistence': 'sessionPersistence',
    'scores.requestSuccess': 'requestSuccess',
    ...LATENCY_ALIASES,
  },
};
