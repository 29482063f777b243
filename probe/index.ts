// The drainwatch probes: synthetic authenticated users and WebSockets that see what users see.
export {
  PROBE_DEFAULTS,
  PROBE_ENV,
  type ProbeConfig,
  type ProbeUser,
  type ResolvedProbeConfig,
  resolveProbeConfig,
  skewedUsers,
  websocketCount,
  websocketSpecProblem,
} from './config.js';
export { type CookieJar, createCookieJar, parseSetCookie } from './cookies.js';
export {
  GrpcProtoError,
  ProbeConfigError,
  ProbeStateError,
  ScenarioError,
  TargetUnreachableError,
} from './errors.js';
export { formatProgress, formatSummary } from './format.js';
export {
  createLatencyRecorder,
  LATENCY_SIGNIFICANT_DIGITS,
  type LatencyRecorder,
  type ProbeLatency,
} from './latency.js';
export { createProbeRun, type ProbeDeps } from './run.js';
export {
  DEFAULT_SCENARIO,
  fieldAt,
  fillTemplate,
  loadScenario,
  parseScenario,
  type Scenario,
  scenarioSchema,
  type TrafficRoute,
} from './scenario.js';
export {
  createSkewWindow,
  isAffinityCookie,
  type SessionPods,
  type SkewWindow,
  STICKY_MIN_REQUESTS,
  STICKY_SESSION_SHARE,
  type StickyVerdict,
  skewRatio,
  stickyVerdict,
} from './skew.js';
export {
  type Clock,
  type ProbeRun,
  type ProbeSnapshot,
  type ProbeSummary,
  type ProbeWebSocketStats,
  SYSTEM_CLOCK,
} from './types.js';
