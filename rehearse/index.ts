export {
  DEFAULT_WEBSOCKETS,
  EXAMPLE_VARIANTS,
  type ExampleVariant,
  parsePrestopPolicy,
  REHEARSE_DEFAULTS,
  REHEARSE_ENV,
  type RehearseConfig,
  type RehearseInput,
  resolveRehearseConfig,
  SIDECARS,
  type SidecarKind,
  USER_MIXES,
  type UserMix,
} from './config.js';
export { type RehearsalDependencies, startDependencies } from './dependencies.js';
export { DependencyUnavailableError, RehearseConfigError, RolloutFailedError } from './errors.js';
export {
  createProgressDisplay,
  formatProgressLine,
  type ProgressDisplay,
  type ProgressOutput,
  type ProgressState,
} from './progress.js';
export { failurePct, type GateResult, gateOf, type RehearsalRun, type RunSettings } from './result.js';
export { formatComparison, TABLE_ROWS } from './table.js';
