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
import {
  type HostPort,
  InvalidValueError,
  parseDurationMs,
  parseHostPort,
  parsePositiveNumber,
  parseUrlList,
  parseWholeNumber,
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
  readonly subjectRoot: string;
  /** When set, the agent polls this pid to see the app exit. */
  readonly appPid?: number;
  /** OTLP/HTTP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT); no tracing when absent. */
  readonly otlpEndpoint?: string;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
}

/** Raw option values as strings (commander's flags), one per contract setting; undefined means "not given". */
export type AgentFlags = { readonly [K in AgentSettingKey]?: string };

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
  subjectRoot: AGENT_SETTINGS.subjectRoot.default,
  namespace: AGENT_SETTINGS.namespace.default,
  logLevel: AGENT_SETTINGS.logLevel.default,
  logFormat: AGENT_SETTINGS.logFormat.default,
} as const;

type SettingKey = AgentSettingKey;
type Env = Readonly<Record<string, string | undefined>>;

function fail(key: SettingKey, message: string): never {
  throw new AgentConfigError(agentSettingName(key), message);
}

function raw(key: SettingKey, flags: AgentFlags, env: Env): string | undefined {
  const v = flags[key] ?? env[AGENT_SETTINGS[key].env];
  return v === undefined || v === '' ? undefined : v;
}

/** Runs a lib/values.ts grammar, turning its InvalidValueError into AgentConfigError naming the setting. */
function parsed<T>(key: SettingKey, parse: (setting: string) => T): T {
  try {
    return parse(agentSettingName(key));
  } catch (err) {
    if (err instanceof InvalidValueError) fail(key, err.detail);
    throw err;
  }
}

function hostPortSetting(key: SettingKey, flags: AgentFlags, env: Env, fallback: string): HostPort {
  const v = raw(key, flags, env) ?? fallback;
  return parsed(key, (s) => parseHostPort(s, v));
}

function durationSetting(key: SettingKey, flags: AgentFlags, env: Env): number | undefined {
  const v = raw(key, flags, env);
  return v === undefined ? undefined : parsed(key, (s) => parseDurationMs(s, v, 's'));
}

function intSetting(key: SettingKey, flags: AgentFlags, env: Env, min: number): number | undefined {
  const v = raw(key, flags, env);
  return v === undefined ? undefined : parsed(key, (s) => parseWholeNumber(s, v, min));
}

const SUBJECT_ROOT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

// Deployment pods are named <workload>-<pod-template-hash>-<5 random chars>.
const POD_SUFFIX = /-[a-z0-9]{5,10}-[a-z0-9]{5}$/;

export function workloadOfPod(pod: string): string {
  const stripped = pod.replace(POD_SUFFIX, '');
  return stripped === '' ? pod : stripped;
}

/** Reads every setting: flag > environment > AGENT_DEFAULTS. Throws AgentConfigError naming the setting. */
export function loadAgentConfig(flags: AgentFlags = {}, env: Env = process.env): AgentConfig {
  const listen = hostPortSetting('listen', flags, env, AGENT_DEFAULTS.listen);
  const upstream = hostPortSetting('upstream', flags, env, AGENT_DEFAULTS.upstream);
  const admin = hostPortSetting('admin', flags, env, AGENT_DEFAULTS.admin);
  if (upstream.port === 0) fail('upstream', 'the app port cannot be 0');

  const natsUrl = raw('natsUrl', flags, env) ?? AGENT_DEFAULTS.natsUrl;
  parsed('natsUrl', (setting) => parseUrlList(setting, natsUrl, ['nats', 'tls']));

  const graceRaw = raw('grace', flags, env);
  const graceSeconds =
    graceRaw === undefined
      ? AGENT_DEFAULTS.graceSeconds
      : parsed('grace', (setting) => parsePositiveNumber(setting, graceRaw));
  const graceMs = graceSeconds * 1000;

  const prestopRaw = raw('prestop', flags, env) ?? AGENT_DEFAULTS.prestop;
  const policy = parsed('prestop', (setting) => parsePrestopPolicy(setting, prestopRaw));
  const prestop: PrestopWait =
    policy.mode === 'fixed' ? { mode: 'fixed', fixedMs: Math.round(policy.seconds * 1000) } : policy;
  if (prestop.mode === 'fixed' && prestop.fixedMs > graceMs) {
    fail('prestop', `fixed wait ${prestop.fixedMs / 1000}s is above the grace period of ${graceSeconds}s`);
  }

  const prestopMinMs = durationSetting('prestopMin', flags, env) ?? AGENT_DEFAULTS.prestopMinMs;
  const prestopQuietMs = durationSetting('prestopQuiet', flags, env) ?? AGENT_DEFAULTS.prestopQuietMs;
  const drainBudgetMs = durationSetting('drainBudget', flags, env) ?? AGENT_DEFAULTS.drainBudgetMs;
  if (prestopMinMs > graceMs) {
    fail('prestopMin', `${prestopMinMs / 1000}s is above the grace period of ${graceSeconds}s`);
  }
  const explicitMax = durationSetting('prestopMax', flags, env);
  if (explicitMax !== undefined && explicitMax > graceMs) {
    fail('prestopMax', `${explicitMax / 1000}s is above the grace period of ${graceSeconds}s`);
  }
  if (explicitMax !== undefined && explicitMax < prestopMinMs) {
    fail('prestopMax', `${explicitMax / 1000}s is below the preStop minimum of ${prestopMinMs / 1000}s`);
  }
  // Without an explicit maximum, the budget for the app's own drain is kept free; a short grace
  // period still gets at least the minimum.
  const prestopMaxMs = explicitMax ?? Math.max(prestopMinMs, graceMs - drainBudgetMs);

  const summaryIntervalMs =
    durationSetting('summaryInterval', flags, env) ?? AGENT_DEFAULTS.summaryIntervalMs;
  if (summaryIntervalMs < 100) fail('summaryInterval', 'must be at least 100ms');
  const keepAliveTimeoutMs =
    durationSetting('keepaliveTimeout', flags, env) ?? AGENT_DEFAULTS.keepAliveTimeoutMs;
  // Idle connections are swept once a second.
  if (keepAliveTimeoutMs < 1000) fail('keepaliveTimeout', 'must be at least 1s');
  // Below 1 KiB not even an ordinary head fits.
  const maxResponseHeaderBytes =
    intSetting('maxResponseHeaderBytes', flags, env, 1024) ?? AGENT_DEFAULTS.maxResponseHeaderBytes;
  const protocolRaw = raw('protocol', flags, env) ?? AGENT_DEFAULTS.protocol;
  const protocol = parsed('protocol', (setting) => parseAgentProtocol(setting, protocolRaw));
  const bufferSize = intSetting('bufferSize', flags, env, 1) ?? AGENT_DEFAULTS.bufferSize;
  const subjectRoot = raw('subjectRoot', flags, env) ?? AGENT_DEFAULTS.subjectRoot;
  if (!SUBJECT_ROOT.test(subjectRoot)) {
    fail('subjectRoot', `expected dot-separated NATS tokens, got ${JSON.stringify(subjectRoot)}`);
  }
  const appPid = intSetting('appPid', flags, env, 1);

  const pod = raw('podName', flags, env) ?? hostname();
  const podIp = env[AGENT_EXTRA_ENV.podIp];
  const nodeName = env[AGENT_EXTRA_ENV.nodeName];
  const identity: AgentIdentity = {
    pod,
    namespace: raw('namespace', flags, env) ?? AGENT_DEFAULTS.namespace,
    workload: raw('workload', flags, env) ?? workloadOfPod(pod),
    ...(podIp ? { podIp } : {}),
    ...(nodeName ? { nodeName } : {}),
  };

  const otlpEndpoint = env[AGENT_EXTRA_ENV.otlpEndpoint];
  const logLevelRaw = raw('logLevel', flags, env) ?? AGENT_DEFAULTS.logLevel;
  const logLevel =
    parseLogLevel(logLevelRaw) ??
    fail('logLevel', `expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevelRaw)}`);
  const logFormatRaw = raw('logFormat', flags, env) ?? AGENT_DEFAULTS.logFormat;
  const logFormat =
    parseLogFormat(logFormatRaw) ??
    fail('logFormat', `expected one of ${LOG_FORMATS.join(', ')}, got ${JSON.stringify(logFormatRaw)}`);
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
    subjectRoot,
    ...(appPid !== undefined ? { appPid } : {}),
    ...(otlpEndpoint ? { otlpEndpoint } : {}),
    logLevel,
    logFormat,
  };
}
