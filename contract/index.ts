// The event contract shared by every drainwatch component: schemas, types, subjects and the
// CloudEvents envelope. Neither the agent nor the collector defines wire shapes of its own.
// kinds.ts, event-builder.ts, subjects.ts, errors.ts and metric-names.ts load no zod; the agent
// imports only those. events.ts (the schemas) and envelope.ts (decoding, the validating
// createEvent/createEventSequencer) do.
export {
  AGENT_EXTRA_ENV,
  AGENT_PORTS,
  AGENT_PROTOCOLS,
  AGENT_SETTINGS,
  type AgentProtocol,
  type AgentSetting,
  type AgentSettingKey,
  type AgentSettingKind,
  agentFlagName,
  agentSettingHelp,
  agentSettingName,
  formatPrestopPolicy,
  type PrestopPolicy,
  parseAgentProtocol,
  parsePrestopPolicy,
  prestopPolicySeconds,
} from './agent-settings.js';
export {
  createEvent,
  createEventSequencer,
  decodeEvent,
  jsonDepth,
  MAX_EVENT_DEPTH,
  validateEvent,
} from './envelope.js';
export {
  ContractError,
  type ContractErrorCode,
  InvalidEventDataError,
  InvalidSubjectError,
  MalformedEnvelopeError,
  NotJsonError,
  OversizeEventError,
  TooDeepEventError,
  UnknownEventTypeError,
  UnsupportedVersionError,
} from './errors.js';
export {
  type AnyEvent,
  type CreateEventOptions,
  createUncheckedEvent,
  createUncheckedEventSequencer,
  type DrainwatchEvent,
  type EventIdentity,
  type EventSequencer,
  encodeEvent,
  eventSource,
  MAX_EVENT_BYTES,
  newEventId,
  SCHEMA_VERSION,
  SPEC_VERSION,
  subjectOf,
} from './event-builder.js';
export {
  causeSchema,
  dataSchemas,
  type EventData,
  type PhaseCounts,
  phaseSchema,
} from './events.js';
export {
  CAUSES,
  type Cause,
  CONNECTIONS,
  cloudEventType,
  EVENT_KINDS,
  type EventKind,
  isPodScoped,
  kindOfType,
  LIFECYCLE_KINDS,
  PHASES,
  type Phase,
  PRESTOP_END_REASONS,
  PROBE_ERRORS,
  type PrestopEndReason,
  type ProbeError,
  REQUEST_OUTCOMES,
  type RequestOutcome,
  TCP_CLOSED_BY,
  type TcpClosedBy,
} from './kinds.js';
export {
  AGENT_METRICS,
  DRAIN_METRICS,
  HEALTH_METRICS,
  type MetricSpec,
  type MetricType,
} from './metric-names.js';
export {
  buildSubject,
  DEFAULT_STREAM_NAME,
  DEFAULT_SUBJECT_ROOT,
  escapeToken,
  NO_POD_TOKEN,
  parseSubject,
  SUBJECT_VERSION,
  type SubjectParts,
  streamSubjects,
  unescapeToken,
  workloadFilter,
} from './subjects.js';
