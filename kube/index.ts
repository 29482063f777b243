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
  KubeConfigError,
  KubeError,
  type KubeErrorCode,
  ManifestInvalidError,
  ManifestParseError,
} from './errors.js';
export { type InjectRequest, type InjectResult, injectManifests } from './inject.js';
export { type ManifestSource, readManifestSource } from './input.js';
export { type Finding, lintManifests, sessionsExternal } from './lint.js';
export { formatFindings, LINT_FORMATS, type LintFormat, toSarif } from './lint-format.js';
export { LINT_RULES, type LintRule, type LintRuleId, type Severity } from './lint-rules.js';
export { type K8sObject, objectRef, parseManifests, validateObject } from './manifests.js';
export { decidePortProtocol, type PortDecision, type PortFacts, type ProtocolChoice } from './protocol.js';
