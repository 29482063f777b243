export { type AgentSidecarOptions, CLI_MAIN, createAgentLauncher } from './agent-sidecar.js';
export {
  planRuns,
  QUOTE_APP_MAIN,
  type RehearseIo,
  type RehearseOutcome,
  rehearse,
} from './comparison.js';
export { rehearseConfigIssues, resolveRehearseConfig } from './config.js';
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
export { type RunContext, type RunSpec, runRehearsal } from './run.js';
export {
  DEFAULT_WEBSOCKETS,
  EXAMPLE_VARIANTS,
  type ExampleVariant,
  REHEARSE_DEFAULTS,
  REHEARSE_ENV,
  type RehearseConfig,
  type RehearseInput,
  SIDECARS,
  type SidecarKind,
  USER_MIXES,
  type UserMix,
} from './settings.js';
export { formatComparison, TABLE_ROWS } from './table.js';
