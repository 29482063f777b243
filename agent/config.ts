import { hostname } from 'node:os';
import { DEFAULT_SUBJECT_ROOT } from '../contract/subjects.js';
import { AgentConfigError } from './errors.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export type PrestopPolicy =
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
  readonly prestop: PrestopPolicy;
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
  readonly bufferSize: number;
  readonly subjectRoot: string;
  /** When set, the agent polls this pid to see the app exit. */
  readonly appPid?: number;
  /** OTLP/HTTP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT); no tracing when absent. */
  readonly otlpEndpoint?: string;
}

/** Raw option values as strings (commander's flags); undefined means "not given". */
export interface AgentFlags {
  readonly listen?: string;
  readonly upstream?: string;
  readonly admin?: string;
  readonly natsUrl?: string;
  readonly grace?: string;
  readonly prestop?: string;
  readonly prestopMin?: string;
  readonly prestopQuiet?: string;
  readonly prestopMax?: string;
  readonly drainBudget?: string;
  readonly summaryInterval?: string;
  readonly keepaliveTimeout?: string;
  readonly maxResponseHeaderBytes?: string;
  readonly bufferSize?: string;
  readonly subjectRoot?: string;
  readonly appPid?: string;
  readonly podName?: string;
  readonly namespace?: string;
  readonly workload?: string;
}

export const AGENT_DEFAULTS = {
  listen: '0.0.0.0:15080',
  upstream: '127.0.0.1:8080',
  admin: '0.0.0.0:15021',
  natsUrl: 'nats://127.0.0.1:4222',
  graceSeconds: 30,
  prestop: 'adaptive',
  prestopMinMs: 3000,
  prestopQuietMs: 2000,
  drainBudgetMs: 10_000,
  summaryIntervalMs: 5000,
  // Envoy's downstream idle timeout (1 h): above every load balancer's idle timeout (AWS ALB 60 s,
  // GCP 600 s), so a balancer never sends a request on a connection the agent is closing and
  // answers 502. At drain the agent closes idle connections itself (issue #14).
  keepAliveTimeoutMs: 3_600_000,
  // Envoy's max_response_headers_kb default is 60 KiB; llhttp's own default (16 KiB) turned apps
  // setting many cookies into 502s.
  maxResponseHeaderBytes: 64 * 1024,
  bufferSize: 10_000,
  subjectRoot: DEFAULT_SUBJECT_ROOT,
  namespace: 'default',
} as const;

/** Each setting's flag and environment variable, so an error names both. */
export const AGENT_SETTINGS = {
  listen: { flag: '--listen', env: 'DRAINWATCH_LISTEN' },
  upstream: { flag: '--upstream', env: 'DRAINWATCH_UPSTREAM' },
  admin: { flag: '--admin', env: 'DRAINWATCH_ADMIN' },
  natsUrl: { flag: '--nats-url', env: 'NATS_URL' },
  grace: { flag: '--grace', env: 'DRAINWATCH_GRACE_SECONDS' },
  prestop: { flag: '--prestop', env: 'DRAINWATCH_PRESTOP' },
  prestopMin: { flag: '--prestop-min', env: 'DRAINWATCH_PRESTOP_MIN' },
  prestopQuiet: { flag: '--prestop-quiet', env: 'DRAINWATCH_PRESTOP_QUIET' },
  prestopMax: { flag: '--prestop-max', env: 'DRAINWATCH_PRESTOP_MAX' },
  drainBudget: { flag: '--drain-budget', env: 'DRAINWATCH_DRAIN_BUDGET' },
  summaryInterval: { flag: '--summary-interval', env: 'DRAINWATCH_SUMMARY_INTERVAL' },
  keepaliveTimeout: { flag: '--keepalive-timeout', env: 'DRAINWATCH_KEEPALIVE_TIMEOUT' },
  maxResponseHeaderBytes: {
    flag: '--max-response-header-bytes',
    env: 'DRAINWATCH_MAX_RESPONSE_HEADER_BYTES',
  },
  bufferSize: { flag: '--buffer-size', env: 'DRAINWATCH_BUFFER_SIZE' },
  subjectRoot: { flag: '--subject-root', env: 'DRAINWATCH_SUBJECT_ROOT' },
  appPid: { flag: '--app-pid', env: 'DRAINWATCH_APP_PID' },
  podName: { flag: '--pod-name', env: 'POD_NAME' },
  namespace: { flag: '--namespace', env: 'POD_NAMESPACE' },
  workload: { flag: '--workload', env: 'DRAINWATCH_WORKLOAD' },
} as const satisfies Record<keyof AgentFlags, { flag: string; env: string }>;

type SettingKey = keyof typeof AGENT_SETTINGS;
type Env = Readonly<Record<string, string | undefined>>;

function settingName(key: SettingKey): string {
  const s = AGENT_SETTINGS[key];
  return `${s.env} (${s.flag})`;
}

function fail(key: SettingKey, message: string): never {
  throw new AgentConfigError(settingName(key), message);
}

function raw(key: SettingKey, flags: AgentFlags, env: Env): string | undefined {
  const v = flags[key] ?? env[AGENT_SETTINGS[key].env];
  return v === undefined || v === '' ? undefined : v;
}

/** `host:port`, `[v6]:port` or `:port` (all interfaces). Port 0 lets the kernel choose. */
export function parseHostPort(value: string): HostPort | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]*)):(\d{1,5})$/.exec(value.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const host = m[1] ?? (m[2] || '0.0.0.0');
  return { host, port };
}

export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** `500ms`, `3s`, `1m`, or a bare number of seconds. */
function parseDurationMs(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 's']!);
}

function hostPortSetting(key: SettingKey, flags: AgentFlags, env: Env, fallback: string): HostPort {
  const v = raw(key, flags, env) ?? fallback;
  return parseHostPort(v) ?? fail(key, `expected host:port, got ${JSON.stringify(v)}`);
}

function durationSetting(key: SettingKey, flags: AgentFlags, env: Env): number | undefined {
  const v = raw(key, flags, env);
  if (v === undefined) return undefined;
  return parseDurationMs(v) ?? fail(key, `expected a duration like 3s or 500ms, got ${JSON.stringify(v)}`);
}

function intSetting(key: SettingKey, flags: AgentFlags, env: Env, min: number): number | undefined {
  const v = raw(key, flags, env);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) {
    fail(key, `expected a whole number ≥ ${min}, got ${JSON.stringify(v)}`);
  }
  return n;
}

function parsePrestop(value: string): PrestopPolicy | undefined {
  if (value === 'adaptive') return { mode: 'adaptive' };
  const m = /^fixed:(.+)$/.exec(value);
  if (!m) return undefined;
  const ms = parseDurationMs(m[1]!);
  return ms === undefined ? undefined : { mode: 'fixed', fixedMs: ms };
}

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
  try {
    const u = new URL(natsUrl);
    if (!['nats:', 'tls:'].includes(u.protocol)) throw new Error('protocol');
  } catch {
    fail('natsUrl', `expected a nats:// URL, got ${JSON.stringify(natsUrl)}`);
  }

  const graceRaw = raw('grace', flags, env);
  const graceSeconds = graceRaw === undefined ? AGENT_DEFAULTS.graceSeconds : Number(graceRaw);
  if (!Number.isFinite(graceSeconds) || graceSeconds <= 0 || !/^\d+(\.\d+)?$/.test(String(graceRaw ?? 30))) {
    fail('grace', `expected a number of seconds > 0, got ${JSON.stringify(graceRaw)}`);
  }
  const graceMs = graceSeconds * 1000;

  const prestopRaw = raw('prestop', flags, env) ?? AGENT_DEFAULTS.prestop;
  const prestop =
    parsePrestop(prestopRaw) ??
    fail('prestop', `expected adaptive or fixed:<seconds>, got ${JSON.stringify(prestopRaw)}`);
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
  const bufferSize = intSetting('bufferSize', flags, env, 1) ?? AGENT_DEFAULTS.bufferSize;
  const subjectRoot = raw('subjectRoot', flags, env) ?? AGENT_DEFAULTS.subjectRoot;
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(subjectRoot)) {
    fail('subjectRoot', `expected dot-separated NATS tokens, got ${JSON.stringify(subjectRoot)}`);
  }
  const appPid = intSetting('appPid', flags, env, 1);

  const pod = raw('podName', flags, env) ?? hostname();
  const identity: AgentIdentity = {
    pod,
    namespace: raw('namespace', flags, env) ?? AGENT_DEFAULTS.namespace,
    workload: raw('workload', flags, env) ?? workloadOfPod(pod),
    ...(env.POD_IP ? { podIp: env.POD_IP } : {}),
    ...(env.NODE_NAME ? { nodeName: env.NODE_NAME } : {}),
  };

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
    bufferSize,
    subjectRoot,
    ...(appPid !== undefined ? { appPid } : {}),
    ...(env.OTEL_EXPORTER_OTLP_ENDPOINT ? { otlpEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT } : {}),
  };
}
