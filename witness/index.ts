// Witnessing a rollout (probes, baseline, the rollout followed through a cluster adapter, tail,
// the collector's report and the gate), shared by `rehearse` and `verify`; and `verify` itself.

export { checkVerifyConfig, DEFAULT_VERIFY_CONFIG, type VerifyConfig } from './config.js';
export {
  VerifyBaselineError,
  VerifyConfigError,
  VerifyNoPodsError,
  VerifyReportMissingError,
  WitnessError,
  type WitnessErrorCode,
} from './errors.js';
export { createEvidence, type Evidence, type EvidenceOptions } from './evidence.js';
export { type GatePlan, HISTORY_PERCENTILE, historyThreshold, resolveThreshold } from './gate.js';
export { httpReportSource, type ReportSource, storeReportSource } from './report-sources.js';
export { PROBE_FIGURES, REPORT_FIGURES } from './threshold-figures.js';
export {
  compactNames,
  evaluateThresholds,
  type Figure,
  type FigureCatalogue,
  type FigureKind,
  figureValue,
  formatThresholdSummary,
  parseThreshold,
  parseThresholds,
  readThresholds,
  THRESHOLD_OPERATORS,
  type Threshold,
  ThresholdError,
  type ThresholdOperator,
  type ThresholdResult,
  type ThresholdVerdict,
} from './thresholds.js';
export { runVerify, type VerifyDeps, type VerifyResult } from './verify.js';
export {
  createWitness,
  PROGRESS_INTERVAL_MS,
  type Witness,
  type WitnessDeps,
  type WitnessPlan,
  type WitnessProgress,
  type WitnessProgressSink,
  type WitnessResult,
} from './witness.js';
