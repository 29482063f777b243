// The collector's public surface (docs/architecture.md §3–5).
export { type Collector, type CollectorDeps, createCollector } from './collector.js';
export {
  COLLECTOR_DEFAULTS,
  COLLECTOR_ENV,
  type CollectorConfig,
  type CollectorFlags,
  collectorRedisTarget,
  type ListenAddress,
  loadCollectorConfig,
} from './config.js';
export {
  CollectorConfigError,
  CollectorPortInUseError,
  CollectorStateError,
  DrainTimeoutError,
  NatsUnavailableError,
  RedisUnavailableError,
  ScriptReplyError,
} from './errors.js';
export { formatReportText } from './format.js';
export type { Clock } from './ingest.js';
export { computeReport, gateVerdict } from './report.js';
export { type GrpcFigures, RECONNECT_WINDOW_MS } from './report-grpc.js';
export { reportInvariantViolations } from './report-invariants.js';
export {
  type BaselineDefects,
  type Distribution,
  type FailurePhase,
  type FailureRecord,
  type GateVerdict,
  type LatencyDistribution,
  MAX_FAILURES_LISTED,
  type PodTermination,
  type ReportFacts,
  type RolloutOutcome,
  type RolloutReport,
} from './report-types.js';
export { CLEAN_CLOSE_CODES } from './report-websockets.js';
export {
  createReportStore,
  type ListOptions,
  type ReportOptions,
  type ReportStore,
  type RolloutSummary,
  type TimelineEntry,
} from './store.js';
export type { DeadLetterEntry } from './stored.js';
