// drainwatch's Kubernetes manifest tooling: `inject` (add the agent as a native sidecar) and
// `lint` (drain settings that lose users).
export {
  ADMIN_PORT_NAME,
  AGENT_CONTAINER_NAME,
  AGENT_POD_LABEL,
  type AgentResources,
  ANNOTATIONS,
  DEFAULT_INJECT_OPTIONS,
  DEFAULT_LINT_OPTIONS,
  type InjectOptions,
  type LintOptions,
  PROXY_PORT_NAME,
  resolveInjectOptions,
} from './config.js';
export {
  AgentPortConflictError,
  KubeConfigError,
  KubeError,
  type KubeErrorCode,
  ManifestInvalidError,
  ManifestParseError,
  ManifestReadError,
} from './errors.js';
export { type InjectRequest, type InjectResult, injectManifests } from './inject.js';
export { type ManifestSource, readManifestInputs, readManifestSource, readManifestSources } from './input.js';
export {
  type Finding,
  type LintRequest,
  type LintResult,
  lintManifests,
  lintSources,
  sessionsExternal,
} from './lint.js';
export {
  ALL_RULES,
  enabledRules,
  FAIL_ON,
  type FailOn,
  findLintConfig,
  LINT_CONFIG_FILE,
  type LintConfigFile,
  parseLintConfig,
  parseRuleList,
  type RuleSwitches,
  readLintConfig,
} from './lint-config.js';
export {
  formatFindings,
  LINT_FORMATS,
  type LintFormat,
  type SarifContext,
  sarifArtifactUri,
  toSarif,
} from './lint-format.js';
export {
  isLintRuleId,
  LINT_DOCS_PAGE,
  LINT_RULE_IDS,
  LINT_RULES,
  type LintRule,
  type LintRuleId,
  type Severity,
} from './lint-rules.js';
export { type K8sObject, objectRef, parseManifests, validateObject } from './manifests.js';
export { type Pid1Problem, pid1Problem } from './pid1.js';
export { type PreStopReading, readPreStop } from './prestop.js';
export { decidePortProtocol, type PortDecision, type PortFacts, type ProtocolChoice } from './protocol.js';
