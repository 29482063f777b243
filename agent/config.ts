import { hostname } from 'node:os';
import {
  AGENT_EXTRA_ENV,
  AGENT_SETTINGS,
  type AgentProtocol,
  type AgentSettingKey,
  agentSettingName,
  parseAgentProtocol,
  parsePrestopPolicy,
} from '../contract/index.js';
import {
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
  parseLogFormat,
  parseLogLevel,
} from '../lib/log.js';
import { type OtlpProtocol, readOtlpEnv } from '../lib/otlp.js';
import {
  createSettingIssues,
  type HostPort,
  parseDurationMs,
  parseHostPort,
  parsePositiveNumber,
  parseUrlList,
  parseWholeNumber,
  type SettingIssues,
} from '../lib/values.js';
import { AgentConfigError } from './errors.js';

/** The agent's run-time form of the contract's PrestopPolicy: the fixed wait in ms. */
export type PrestopWait =
  | { readonly mode: 'adaptive' }
  | { readonly mode: 'fixed'; readonly fixedMs: number };

export interface AgentIdentity {
  readonly pod: string;
  readonly namespace: string;
  readonly workload: string;
  readonly podIp?: string;
  readonly nodeName?: string;
}

export interface AgentConfig {
  readonly listen: HostPort;
  readonly upstream: HostPort;
  readonly admin: HostPort;
  readonly natsUrl: string;
  readonly identity: AgentIdentity;
  readonly graceSeconds: number;
  readonly prestop: PrestopWait;
  /** Adaptive preStop: never return before this. */
  readonly prestopMinMs: number;
  /** Adaptive preStop: return once no request arrived for this long (after the minimum). */
  readonly prestopQuietMs: number;
  /** Adaptive preStop: never wait longer than this (grace minus drain budget unless set). */
  readonly prestopMaxMs: number;
  /** Time the app needs after SIGTERM; the adaptive maximum leaves it free. */
  readonly drainBudgetMs: number;
  readonly summaryIntervalMs: number;
  /** An idle client keep-alive connection is closed after this long. */
  readonly keepAliveTimeoutMs: number;
  /** The largest response head (status line and headers, bytes) relayed from the app. */
  readonly maxResponseHeaderBytes: number;
  /** http: parse HTTP/1.x and tunnel the rest; tcp: tunnel every connection from its accept. */
  readonly protocol: AgentProtocol;
  readonly bufferSize: number;
  /** Request records ending within this many ms are published as one `request.batch`; 0: none batched. */
  readonly requestBatchMs: number;
  readonly subjectRoot: string;
  /** When set, the agent polls this pid to see the app exit. */
  readonly appPid?: number;
  /** OTLP/HTTP base URL (OTEL_EXPORTER_OTLP_ENDPOINT); no tracing when neither endpoint is set. */
  readonly otlpEndpoint?: string;
  /** OTLP/HTTP traces URL as given (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); wins over otlpEndpoint. */
  readonly otlpTracesEndpoint?: string;
  /** OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL; default http/protobuf. */
  readonly otlpProtocol: OtlpProtocol;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
}

/** Raw option values as strings (commander's flags), one per contract setting; undefined means "not given". */
export type AgentFlags = { readonly [K in AgentSettingKey]?: string };

/** The longest request batching window (ms) the agent takes. */
export const MAX_REQUEST_BATCH_MS = 1000;

/** Each setting's default, parsed from the contract's table (durations in ms). */
export const AGENT_DEFAULTS = {
  listen: AGENT_SETTINGS.listen.default,
  upstream: AGENT_SETTINGS.upstream.default,
  admin: AGENT_SETTINGS.admin.default,
  natsUrl: AGENT_SETTINGS.natsUrl.default,
  graceSeconds: Number(AGENT_SETTINGS.grace.default),
  prestop: AGENT_SETTINGS.prestop.default,
  prestopMinMs: parseDurationMs('', AGENT_SETTINGS.prestopMin.default),
  prestopQuietMs: parseDurationMs('', AGENT_SETTINGS.prestopQuiet.default),
  drainBudgetMs: parseDurationMs('', AGENT_SETTINGS.drainBudget.default),
  summaryIntervalMs: parseDurationMs('', AGENT_SETTINGS.summaryInterval.default),
  keepAliveTimeoutMs: parseDurationMs('', AGENT_SETTINGS.keepaliveTimeout.default),
  maxResponseHeaderBytes: Number(AGENT_SETTINGS.maxResponseHeaderBytes.default),
  protocol: AGENT_SETTINGS.protocol.default,
  bufferSize: Number(AGENT_SETTINGS.bufferSize.default),
  requestBatchMs: parseDurationMs('', AGENT_SETTINGS.requestBatch.default),
  subjectRoot: AGENT_SETTINGS.subjectRoot.default,
  namespace: AGENT_SETTINGS.namespace.default,
  logLevel: AGENT_SETTINGS.logLevel.default,
  logFormat: AGENT_SETTINGS.logFormat.default,
} as const;

type SettingKey = AgentSettingKey;
type Env = Readonly<Record<string, string | undefined>>;

type Issues = SettingIssues;

function raw(key: SettingKey, flags: AgentFlags, env: Env): string | undefined {
  const v = flags[key] ?? env[AGENT_SETTINGS[key].env];
  return v === undefined || v === '' ? undefined : v;
}

/** Runs a lib/values.ts grammar; a bad value is recorded in `issues` and `fallback` returned. */
function parsed<T>(issues: Issues, key: SettingKey, parse: (setting: string) => T, fallback: T): T {
  return issues.value(agentSettingName(key), parse, fallback);
}

/** Reads one setting (flag > env) with `parse`; undefined when not given or bad (the issue is recorded). */
function setting<T>(
  issues: Issues,
  key: SettingKey,
  input: { flags: AgentFlags; env: Env },
  parse: (setting: string, value: string) => T,
): T | undefined {
  const v = raw(key, input.flags, input.env);
  return v === undefined ? undefined : parsed<T | undefined>(issues, key, (s) => parse(s, v), undefined);
}

const SUBJECT_ROOT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

// Deployment pods are named <workload>-<pod-template-hash>-<5 random chars>.
const POD_SUFFIX = /-[a-z0-9]{5,10}-[a-z0-9]{5}$/;

export function workloadOfPod(pod: string): string {
  const stripped = pod.replace(POD_SUFFIX, '');
  return stripped === '' ? pod : stripped;
}

/**
 * Reads every setting: flag > environment > AGENT_DEFAULTS, then the cross-field rules. Throws
 * AgentConfigError naming the setting (`ENV (--flag)`), or InvalidSettingsError naming every bad
 * one when there are several.
 */
export function loadAgentConfig(flags: AgentFlags = {}, env: Env = process.env): AgentConfig {
  const issues = createSettingIssues((name, detail) => new AgentConfigError(name, detail));
  const input = { flags, env };
  const add = (key: SettingKey, detail: string) => issues.add(agentSettingName(key), detail);
  const bad = (...keys: SettingKey[]) => keys.some((k) => issues.has(agentSettingName(k)));
  const get = <T>(key: SettingKey, parse: (s: string, v: string) => T) => setting(issues, key, input, parse);
  const duration = (key: SettingKey) => get(key, (s, v) => parseDurationMs(s, v));
  const hostPort = (key: SettingKey, fallback: string) =>
    get(key, parseHostPort) ?? parseHostPort('', fallback);
  const listen = hostPort('listen', AGENT_DEFAULTS.listen);
  const upstream = hostPort('upstream', AGENT_DEFAULTS.upstream);
  const admin = hostPort('admin', AGENT_DEFAULTS.admin);
  if (upstream.port === 0) add('upstream', 'the app port cannot be 0');

  const natsUrl = raw('natsUrl', flags, env) ?? AGENT_DEFAULTS.natsUrl;
  parsed(issues, 'natsUrl', (s) => parseUrlList(s, natsUrl, ['nats', 'tls']), natsUrl);

  const graceSeconds = get('grace', parsePositiveNumber) ?? AGENT_DEFAULTS.graceSeconds;
  const graceMs = graceSeconds * 1000;
  const policy = get('prestop', parsePrestopPolicy) ?? parsePrestopPolicy('', AGENT_DEFAULTS.prestop);
  const prestop: PrestopWait =
    policy.mode === 'fixed' ? { mode: 'fixed', fixedMs: Math.round(policy.seconds * 1000) } : policy;
  const overGrace = (key: SettingKey, ms: number, what: string) => {
    if (!bad(key, 'grace') && ms > graceMs)
      add(key, `${what}${ms / 1000}s is above the grace period of ${graceSeconds}s`);
  };
  if (prestop.mode === 'fixed') overGrace('prestop', prestop.fixedMs, 'fixed wait ');

  const prestopMinMs = duration('prestopMin') ?? AGENT_DEFAULTS.prestopMinMs;
  const prestopQuietMs = duration('prestopQuiet') ?? AGENT_DEFAULTS.prestopQuietMs;
  const drainBudgetMs = duration('drainBudget') ?? AGENT_DEFAULTS.drainBudgetMs;
  overGrace('prestopMin', prestopMinMs, '');
  const explicitMax = duration('prestopMax');
  if (explicitMax !== undefined) overGrace('prestopMax', explicitMax, '');
  if (explicitMax !== undefined && !bad('prestopMin') && explicitMax < prestopMinMs) {
    add('prestopMax', `${explicitMax / 1000}s is below the preStop minimum of ${prestopMinMs / 1000}s`);
  }
  // Without an explicit maximum, the budget for the app's own drain is kept free; a short grace
  // period still gets at least the minimum.
  const prestopMaxMs = explicitMax ?? Math.max(prestopMinMs, graceMs - drainBudgetMs);

  const summaryIntervalMs = duration('summaryInterval') ?? AGENT_DEFAULTS.summaryIntervalMs;
  if (summaryIntervalMs < 100) add('summaryInterval', 'must be at least 100ms');
  const keepAliveTimeoutMs = duration('keepaliveTimeout') ?? AGENT_DEFAULTS.keepAliveTimeoutMs;
  // Idle connections are swept once a second.
  if (keepAliveTimeoutMs < 1000) add('keepaliveTimeout', 'must be at least 1s');
  // Below 1 KiB not even an ordinary head fits.
  const maxResponseHeaderBytes =
    get('maxResponseHeaderBytes', (s, v) => parseWholeNumber(s, v, 1024)) ??
    AGENT_DEFAULTS.maxResponseHeaderBytes;
  const protocol = get('protocol', parseAgentProtocol) ?? AGENT_DEFAULTS.protocol;
  const bufferSize = get('bufferSize', (s, v) => parseWholeNumber(s, v, 1)) ?? AGENT_DEFAULTS.bufferSize;
  const requestBatchMs = duration('requestBatch') ?? AGENT_DEFAULTS.requestBatchMs;
  // Records held longer would reach the collector after the quiet timeouts people set (seconds).
  if (requestBatchMs > MAX_REQUEST_BATCH_MS) add('requestBatch', `must be at most ${MAX_REQUEST_BATCH_MS}ms`);
  const subjectRoot = raw('subjectRoot', flags, env) ?? AGENT_DEFAULTS.subjectRoot;
  if (!SUBJECT_ROOT.test(subjectRoot)) {
    add('subjectRoot', `expected dot-separated NATS tokens, got ${JSON.stringify(subjectRoot)}`);
  }
  const appPid = get('appPid', (s, v) => parseWholeNumber(s, v, 1));

  const identity = identityOf(flags, env);
  // OTEL_SDK_DISABLED: only "true" (any case) disables, as the OTel spec's boolean rule says.
  const otelOff = env[AGENT_EXTRA_ENV.sdkDisabled]?.trim().toLowerCase() === 'true';
  const otlp = readOtlpEnv(env, issues);
  const otlpEndpoint = otelOff ? undefined : otlp.endpoint;
  const otlpTracesEndpoint = otelOff ? undefined : otlp.tracesEndpoint;
  const otlpProtocol = otlp.protocol;
  const { logLevel, logFormat } = logSettings(flags, env, add);
  issues.throwIfAny();
  return {
    listen,
    upstream,
    admin,
    natsUrl,
    identity,
    graceSeconds,
    prestop,
    prestopMinMs,
    prestopQuietMs,
    prestopMaxMs,
    drainBudgetMs,
    summaryIntervalMs,
    keepAliveTimeoutMs,
    maxResponseHeaderBytes,
    protocol,
    bufferSize,
    requestBatchMs,
    subjectRoot,
    ...(appPid !== undefined ? { appPid } : {}),
    ...(otlpEndpoint ? { otlpEndpoint } : {}),
    ...(otlpTracesEndpoint ? { otlpTracesEndpoint } : {}),
    otlpProtocol,
    logLevel,
    logFormat,
  };
}

function identityOf(flags: AgentFlags, env: Env): AgentIdentity {
  const pod = raw('podName', flags, env) ?? hostname();
  const podIp = env[AGENT_EXTRA_ENV.podIp];
  const nodeName = env[AGENT_EXTRA_ENV.nodeName];
  return {
    pod,
    namespace: raw('namespace', flags, env) ?? AGENT_DEFAULTS.namespace,
    workload: raw('workload', flags, env) ?? workloadOfPod(pod),
    ...(podIp ? { podIp } : {}),
    ...(nodeName ? { nodeName } : {}),
  };
}

function logSettings(
  flags: AgentFlags,
  env: Env,
  add: (key: SettingKey, detail: string) => void,
): { logLevel: LogLevel; logFormat: LogFormat } {
  const levelRaw = raw('logLevel', flags, env) ?? AGENT_DEFAULTS.logLevel;
  const logLevel = parseLogLevel(levelRaw);
  if (!logLevel) add('logLevel', `expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(levelRaw)}`);
  const formatRaw = raw('logFormat', flags, env) ?? AGENT_DEFAULTS.logFormat;
  const logFormat = parseLogFormat(formatRaw);
  if (!logFormat)
    add('logFormat', `expected one of ${LOG_FORMATS.join(', ')}, got ${JSON.stringify(formatRaw)}`);
  return { logLevel: logLevel ?? AGENT_DEFAULTS.logLevel, logFormat: logFormat ?? AGENT_DEFAULTS.logFormat };
}
