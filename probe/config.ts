import { randomBytes } from 'node:crypto';
import { DEFAULT_SUBJECT_ROOT } from '../contract/index.js';
import { InvalidValueError, parseUrl } from '../lib/values.js';
import { ProbeConfigError } from './errors.js';
import { DEFAULT_SCENARIO, type Scenario } from './scenario.js';

/** One synthetic user: its login name and how much traffic it sends relative to a weight-1 user. */
export interface ProbeUser {
  readonly name: string;
  /** Multiplies the session's request rate; a few heavy users make a skewed user mix. */
  readonly weight?: number;
}

export interface ProbeConfig {
  /** The service entry point, e.g. `http://127.0.0.1:8080`. */
  readonly target: string;
  readonly sessions: number;
  /** WebSocket sessions: a count (`2000`), a fraction of sessions (`0.2`) or a percentage (`'20%'`). */
  readonly websockets?: number | string;
  readonly scenario?: Scenario;
  /** Traffic requests per second of one weight-1 session. */
  readonly ratePerSession?: number;
  readonly identityIntervalMs?: number;
  readonly requestTimeoutMs?: number;
  readonly wsPingIntervalMs?: number;
  readonly wsAckTimeoutMs?: number;
  readonly wsReconnectMinMs?: number;
  readonly wsReconnectMaxMs?: number;
  /** Retry a failed request once and report the retry separately (scores always use the raw result). */
  readonly retryOnce?: boolean;
  /** Identity of the workload under test, stamped on every event (the pod is always null). */
  readonly namespace?: string;
  readonly workload?: string;
  readonly runId?: string;
  readonly subjectRoot?: string;
  /** The user of session `index`; by default `probe-<runId>-<index>` with weight 1. */
  readonly users?: (index: number) => ProbeUser;
  /** Sliding window of the per-pod skew ratio. */
  readonly skewWindowMs?: number;
  /** Session starts are spread over this long so a login storm does not look like the service's fault. */
  readonly rampMs?: number;
  readonly progressIntervalMs?: number;
  /** Event-loop lag above this marks the run unreliable. */
  readonly lagThresholdMs?: number;
  /** Events waiting for NATS at most; beyond it they are dropped and counted. */
  readonly eventQueueSize?: number;
  readonly connectTimeoutMs?: number;
}

export const PROBE_DEFAULTS = {
  websockets: 0.2,
  ratePerSession: 1,
  identityIntervalMs: 5000,
  requestTimeoutMs: 5000,
  wsPingIntervalMs: 1000,
  wsAckTimeoutMs: 5000,
  wsReconnectMinMs: 100,
  wsReconnectMaxMs: 5000,
  retryOnce: false,
  namespace: 'default',
  workload: 'unknown',
  subjectRoot: DEFAULT_SUBJECT_ROOT,
  skewWindowMs: 10_000,
  /** Per session, capped at maxRampMs: 10,000 sessions start over 10 s. */
  rampMsPerSession: 1,
  maxRampMs: 10_000,
  progressIntervalMs: 1000,
  lagThresholdMs: 100,
  eventQueueSize: 20_000,
  connectTimeoutMs: 3000,
} as const;

/** The environment variables the standalone CLI reads (flag > env > default). */
export const PROBE_ENV = {
  target: 'DRAINWATCH_TARGET',
  sessions: 'DRAINWATCH_SESSIONS',
  duration: 'DRAINWATCH_DURATION',
  scenario: 'DRAINWATCH_SCENARIO',
  websockets: 'DRAINWATCH_WEBSOCKETS',
  rate: 'DRAINWATCH_PROBE_RATE',
  retryOnce: 'DRAINWATCH_PROBE_RETRY',
  natsUrl: 'NATS_URL',
  namespace: 'DRAINWATCH_NAMESPACE',
  workload: 'DRAINWATCH_WORKLOAD',
  subjectRoot: 'DRAINWATCH_SUBJECT_ROOT',
} as const;

export interface ResolvedProbeConfig {
  readonly target: URL;
  readonly sessions: number;
  readonly websockets: number;
  readonly scenario: Scenario;
  readonly ratePerSession: number;
  readonly identityIntervalMs: number;
  readonly requestTimeoutMs: number;
  readonly wsPingIntervalMs: number;
  readonly wsAckTimeoutMs: number;
  readonly wsReconnectMinMs: number;
  readonly wsReconnectMaxMs: number;
  readonly retryOnce: boolean;
  readonly namespace: string;
  readonly workload: string;
  readonly runId: string;
  readonly subjectRoot: string;
  readonly users: (index: number) => ProbeUser;
  readonly skewWindowMs: number;
  readonly rampMs: number;
  readonly progressIntervalMs: number;
  readonly lagThresholdMs: number;
  readonly eventQueueSize: number;
  readonly connectTimeoutMs: number;
}

function positive(setting: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new ProbeConfigError(setting, `expected a number > 0, got ${value}`);
  return value;
}

/** Resolves `websockets` given as a count, a fraction (0 < x < 1) or a percentage string. */
export function websocketCount(spec: number | string, sessions: number): number {
  const text = String(spec).trim();
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(text);
  const n = pct ? Number(pct[1]) / 100 : Number(text);
  if (!Number.isFinite(n) || n < 0 || text === '') {
    throw new ProbeConfigError(
      'websockets',
      `expected a count, a fraction or a percentage, got ${JSON.stringify(spec)}`,
    );
  }
  if (pct || (n > 0 && n < 1)) {
    if (n > 1) throw new ProbeConfigError('websockets', `${text} is more than every session`);
    return Math.round(n * sessions);
  }
  if (!Number.isInteger(n)) throw new ProbeConfigError('websockets', `expected a whole count, got ${text}`);
  return n;
}

/** Why `spec` is not a count, a fraction or a percentage of sessions; undefined when it is one. */
export function websocketSpecProblem(spec: string): string | undefined {
  try {
    websocketCount(spec, 1);
    return undefined;
  } catch (err) {
    if (err instanceof ProbeConfigError) return err.detail;
    throw err;
  }
}

/** Applies defaults and checks every cross-field rule, throwing one ProbeConfigError naming the setting. */
export function resolveProbeConfig(config: ProbeConfig): ResolvedProbeConfig {
  let target: URL;
  try {
    target = new URL(parseUrl('target', config.target, ['http', 'https']));
  } catch (err) {
    if (err instanceof InvalidValueError) throw new ProbeConfigError('target', err.detail);
    throw err;
  }
  if (!Number.isInteger(config.sessions) || config.sessions < 1) {
    throw new ProbeConfigError('sessions', `expected a whole number ≥ 1, got ${config.sessions}`);
  }
  const scenario = config.scenario ?? DEFAULT_SCENARIO;
  // The default fraction applies only when the scenario has a WebSocket; an explicit count demands one.
  const explicitWs = config.websockets !== undefined;
  let websockets = websocketCount(config.websockets ?? PROBE_DEFAULTS.websockets, config.sessions);
  // An SSE stream is the live connection of an SSE scenario: the same share of sessions keeps one;
  // a gRPC server stream that of a gRPC scenario with a `stream` method.
  if (!scenario.websocket && !scenario.sse && !scenario.socketio && !scenario.grpc?.stream) {
    if (explicitWs && websockets > 0) {
      throw new ProbeConfigError(
        'websockets',
        `${websockets} requested but the scenario has no websocket section`,
      );
    }
    websockets = 0;
  }
  if (websockets > config.sessions) {
    throw new ProbeConfigError('websockets', `${websockets} is more than the ${config.sessions} sessions`);
  }
  const d = PROBE_DEFAULTS;
  const runId = config.runId ?? randomBytes(4).toString('hex');
  const wsReconnectMinMs = positive('wsReconnectMinMs', config.wsReconnectMinMs ?? d.wsReconnectMinMs);
  const wsReconnectMaxMs = positive('wsReconnectMaxMs', config.wsReconnectMaxMs ?? d.wsReconnectMaxMs);
  if (wsReconnectMaxMs < wsReconnectMinMs) {
    throw new ProbeConfigError(
      'wsReconnectMaxMs',
      `${wsReconnectMaxMs} is below wsReconnectMinMs ${wsReconnectMinMs}`,
    );
  }
  const rampMs = config.rampMs ?? Math.min(d.maxRampMs, config.sessions * d.rampMsPerSession);
  if (!Number.isFinite(rampMs) || rampMs < 0)
    throw new ProbeConfigError('rampMs', `expected ≥ 0, got ${rampMs}`);
  return {
    target,
    sessions: config.sessions,
    websockets,
    scenario,
    ratePerSession: positive('ratePerSession', config.ratePerSession ?? d.ratePerSession),
    identityIntervalMs: positive('identityIntervalMs', config.identityIntervalMs ?? d.identityIntervalMs),
    requestTimeoutMs: positive('requestTimeoutMs', config.requestTimeoutMs ?? d.requestTimeoutMs),
    wsPingIntervalMs: positive('wsPingIntervalMs', config.wsPingIntervalMs ?? d.wsPingIntervalMs),
    wsAckTimeoutMs: positive('wsAckTimeoutMs', config.wsAckTimeoutMs ?? d.wsAckTimeoutMs),
    wsReconnectMinMs,
    wsReconnectMaxMs,
    retryOnce: config.retryOnce ?? d.retryOnce,
    namespace: config.namespace || d.namespace,
    workload: config.workload || d.workload,
    runId,
    subjectRoot: config.subjectRoot ?? d.subjectRoot,
    users: config.users ?? ((i) => ({ name: `probe-${runId}-${i}` })),
    skewWindowMs: positive('skewWindowMs', config.skewWindowMs ?? d.skewWindowMs),
    rampMs,
    progressIntervalMs: positive('progressIntervalMs', config.progressIntervalMs ?? d.progressIntervalMs),
    lagThresholdMs: positive('lagThresholdMs', config.lagThresholdMs ?? d.lagThresholdMs),
    eventQueueSize: positive('eventQueueSize', config.eventQueueSize ?? d.eventQueueSize),
    connectTimeoutMs: positive('connectTimeoutMs', config.connectTimeoutMs ?? d.connectTimeoutMs),
  };
}

/** Users where the first `heavyFraction` of sessions send `heavyWeight` times the traffic of the rest. */
export function skewedUsers(options: {
  readonly prefix: string;
  readonly sessions: number;
  readonly heavyFraction: number;
  readonly heavyWeight: number;
}): (index: number) => ProbeUser {
  const heavy = Math.round(options.sessions * options.heavyFraction);
  return (i) => ({ name: `${options.prefix}${i}`, weight: i < heavy ? options.heavyWeight : 1 });
}
