import { DURATION_UNIT_MS, InvalidValueError, parseDurationMs } from '../lib/values.js';
import { DEFAULT_SUBJECT_ROOT } from './subjects.js';

// The agent's settings as a contract: every setting's env var, CLI flag, default, help and kind of
// value, and the agent's ports. The agent reads them (agent/config.ts), `drainwatch agent`
// generates its options from them, and everything that configures an agent from outside (inject,
// lint, the rehearsal's sidecar) writes the same names, so none is retyped. Zod-free: the agent
// loads this module.

/** The agent's ports in a pod (docs/architecture.md §3): traffic arrives on one, preStop/health/metrics on the other. */
export const AGENT_PORTS = { traffic: 15080, admin: 15021 } as const;

/** How a setting's value is read; each kind has one grammar in lib/values.ts. */
export type AgentSettingKind =
  | 'host-port'
  | 'nats-url'
  | 'seconds'
  | 'prestop'
  | 'duration'
  | 'whole-number'
  | 'subject-root'
  | 'log-level'
  | 'log-format'
  | 'protocol'
  | 'text';

export interface AgentSetting {
  /** The option as commander takes it, with its value placeholder: `--listen <host:port>`. */
  readonly flag: string;
  readonly env: string;
  readonly kind: AgentSettingKind;
  /** The default as the agent would take it from the environment; absent when computed. */
  readonly default?: string;
  /** Help text; the CLI appends `default: …` from `default` or `defaultHelp`. */
  readonly help: string;
  /** Help's words for a computed default. */
  readonly defaultHelp?: string;
}

export const AGENT_SETTINGS = {
  listen: {
    flag: '--listen <host:port>',
    env: 'DRAINWATCH_LISTEN',
    kind: 'host-port',
    default: `0.0.0.0:${AGENT_PORTS.traffic}`,
    help: 'where traffic arrives',
  },
  upstream: {
    flag: '--upstream <host:port>',
    env: 'DRAINWATCH_UPSTREAM',
    kind: 'host-port',
    default: '127.0.0.1:8080',
    help: 'the app',
  },
  admin: {
    flag: '--admin <host:port>',
    env: 'DRAINWATCH_ADMIN',
    kind: 'host-port',
    default: `0.0.0.0:${AGENT_PORTS.admin}`,
    help: 'preStop, health, metrics, state',
  },
  natsUrl: {
    flag: '--nats-url <url>',
    env: 'NATS_URL',
    kind: 'nats-url',
    default: 'nats://127.0.0.1:4222',
    help: 'NATS with JetStream',
  },
  grace: {
    flag: '--grace <seconds>',
    env: 'DRAINWATCH_GRACE_SECONDS',
    kind: 'seconds',
    default: '30',
    help: "the pod's terminationGracePeriodSeconds",
  },
  prestop: {
    flag: '--prestop <policy>',
    env: 'DRAINWATCH_PRESTOP',
    kind: 'prestop',
    default: 'adaptive',
    help: 'adaptive, or fixed:<duration> (a bare number is seconds)',
  },
  prestopMin: {
    flag: '--prestop-min <duration>',
    env: 'DRAINWATCH_PRESTOP_MIN',
    kind: 'duration',
    default: '3s',
    help: 'adaptive preStop: shortest wait',
  },
  prestopQuiet: {
    flag: '--prestop-quiet <duration>',
    env: 'DRAINWATCH_PRESTOP_QUIET',
    kind: 'duration',
    default: '2s',
    help: 'adaptive preStop: ends after this long without a new request',
  },
  prestopMax: {
    flag: '--prestop-max <duration>',
    env: 'DRAINWATCH_PRESTOP_MAX',
    kind: 'duration',
    help: 'adaptive preStop: longest wait',
    defaultHelp: 'grace minus drain budget',
  },
  drainBudget: {
    flag: '--drain-budget <duration>',
    env: 'DRAINWATCH_DRAIN_BUDGET',
    kind: 'duration',
    // One meaning everywhere: lint and inject budget the same time (kube/config.ts reads this).
    default: '20s',
    help: "time kept free for the app's own drain",
  },
  summaryInterval: {
    flag: '--summary-interval <duration>',
    env: 'DRAINWATCH_SUMMARY_INTERVAL',
    kind: 'duration',
    default: '5s',
    help: 'traffic summary period',
  },
  keepaliveTimeout: {
    flag: '--keepalive-timeout <duration>',
    env: 'DRAINWATCH_KEEPALIVE_TIMEOUT',
    kind: 'duration',
    // Envoy's downstream idle timeout (1 h): above every load balancer's idle timeout (AWS ALB 60 s,
    // GCP 600 s), so a balancer never sends a request on a connection the agent is closing and
    // answers 502. At drain the agent closes idle connections itself (docs/agent.md).
    default: '1h',
    help: "close an idle client connection after this long; keep it above a load balancer's idle timeout",
  },
  protocol: {
    flag: '--protocol <protocol>',
    env: 'DRAINWATCH_PROTOCOL',
    kind: 'protocol',
    // http: HTTP/1.x is parsed (requests, WebSockets, drain); anything else on the port (HTTP/2
    // prior knowledge, TLS) is recognised by its first bytes and tunnelled. tcp: every connection
    // is tunnelled from the moment it is accepted, so protocols where the server speaks first
    // (NATS INFO, SMTP, MySQL, Redis after AUTH) never wait for a client byte.
    default: 'http',
    help: 'http (parse HTTP/1.x, tunnel anything else) or tcp (tunnel every connection byte for byte)',
  },
  maxResponseHeaderBytes: {
    flag: '--max-response-header-bytes <bytes>',
    env: 'DRAINWATCH_MAX_RESPONSE_HEADER_BYTES',
    kind: 'whole-number',
    // Envoy's max_response_headers_kb default is 60 KiB; llhttp's own default (16 KiB) turned apps
    // setting many cookies into 502s.
    default: '65536',
    help: 'largest response head from the app (status line and headers, bytes); a larger one answers 502',
  },
  bufferSize: {
    flag: '--buffer-size <events>',
    env: 'DRAINWATCH_BUFFER_SIZE',
    kind: 'whole-number',
    default: '10000',
    help: 'events kept while NATS is away',
  },
  requestBatch: {
    flag: '--request-batch <duration>',
    env: 'DRAINWATCH_REQUEST_BATCH',
    kind: 'duration',
    // Long enough that a pod failing many requests at once sends a few messages, not one per
    // request (the collector's CPU per message, docs/scaling.md); short beside a rollout's quiet
    // timeout, so reports are not delayed by it.
    default: '100ms',
    help: 'request records ending within this window (at most 1s) leave in one event (0: one event per record)',
  },
  subjectRoot: {
    flag: '--subject-root <root>',
    env: 'DRAINWATCH_SUBJECT_ROOT',
    kind: 'subject-root',
    default: DEFAULT_SUBJECT_ROOT,
    help: 'NATS subject root',
  },
  appPid: {
    flag: '--app-pid <pid>',
    env: 'DRAINWATCH_APP_PID',
    kind: 'whole-number',
    help: "watch this pid for the app's exit",
  },
  podName: {
    flag: '--pod-name <name>',
    env: 'POD_NAME',
    kind: 'text',
    help: 'pod name',
    defaultHelp: 'hostname',
  },
  namespace: {
    flag: '--namespace <ns>',
    env: 'POD_NAMESPACE',
    kind: 'text',
    default: 'default',
    help: 'pod namespace',
  },
  workload: {
    flag: '--workload <name>',
    env: 'DRAINWATCH_WORKLOAD',
    kind: 'text',
    help: 'workload',
    defaultHelp: 'pod name without its hashes',
  },
  logLevel: {
    flag: '--log-level <level>',
    env: 'DRAINWATCH_LOG_LEVEL',
    kind: 'log-level',
    default: 'info',
    help: 'fatal, error, warn, info, debug, trace or silent',
  },
  logFormat: {
    flag: '--log-format <format>',
    env: 'DRAINWATCH_LOG_FORMAT',
    kind: 'log-format',
    default: 'json',
    help: 'json (one record per line on stderr) or text',
  },
} as const satisfies Record<string, AgentSetting>;

export type AgentSettingKey = keyof typeof AGENT_SETTINGS;

/** Environment the agent reads besides its settings (set by the pod's downward API, or OTel's own). */
export const AGENT_EXTRA_ENV = {
  podIp: 'POD_IP',
  nodeName: 'NODE_NAME',
  otlpEndpoint: 'OTEL_EXPORTER_OTLP_ENDPOINT',
  otlpTracesEndpoint: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  sdkDisabled: 'OTEL_SDK_DISABLED',
} as const;

/** The long flag alone: `--listen`. */
export function agentFlagName(key: AgentSettingKey): string {
  return AGENT_SETTINGS[key].flag.split(' ')[0]!;
}

/** `DRAINWATCH_LISTEN (--listen)`: how an error names a setting, since either may have been set. */
export function agentSettingName(key: AgentSettingKey): string {
  return `${AGENT_SETTINGS[key].env} (${agentFlagName(key)})`;
}

/** The help line of a setting (the CLI appends its default and env var in one format). */
export function agentSettingHelp(key: AgentSettingKey): string {
  return AGENT_SETTINGS[key].help;
}

/** The default as help shows it: the setting's default, or the words for a computed one. */
export function agentSettingDefault(key: AgentSettingKey): string | undefined {
  const s: AgentSetting = AGENT_SETTINGS[key];
  return s.default ?? s.defaultHelp;
}

// ---- the traffic protocol ------------------------------------------------------------------------

/** What the agent does with a connection on its traffic port (DRAINWATCH_PROTOCOL). */
export const AGENT_PROTOCOLS = ['http', 'tcp'] as const;
export type AgentProtocol = (typeof AGENT_PROTOCOLS)[number];

/** `http` or `tcp` (case-insensitive). Throws InvalidValueError naming `setting`. */
export function parseAgentProtocol(setting: string, value: string): AgentProtocol {
  const v = value.trim().toLowerCase();
  if (v === 'http' || v === 'tcp') return v;
  throw new InvalidValueError(setting, value, `expected http or tcp, got ${JSON.stringify(value)}`);
}

// ---- the preStop policy -------------------------------------------------------------------------

/** The agent's preStop: wait until traffic stops (adaptive), or a fixed time. */
export type PrestopPolicy =
  | { readonly mode: 'adaptive' }
  | { readonly mode: 'fixed'; readonly seconds: number };

/**
 * `adaptive`, or `fixed:<duration>` with the duration grammar and a bare number in seconds
 * (`fixed:10`, `fixed:2.5`, `fixed:500ms`). Throws InvalidValueError naming `setting`.
 */
export function parsePrestopPolicy(setting: string, value: string): PrestopPolicy {
  const v = value.trim();
  if (v === 'adaptive') return { mode: 'adaptive' };
  const m = /^fixed:(.+)$/.exec(v);
  const ms = m ? tryDurationMs(m[1]!) : undefined;
  if (ms === undefined) {
    throw new InvalidValueError(
      setting,
      value,
      `expected adaptive or fixed:<seconds>, got ${JSON.stringify(value)}`,
    );
  }
  return { mode: 'fixed', seconds: ms / DURATION_UNIT_MS.s };
}

function tryDurationMs(text: string): number | undefined {
  try {
    return parseDurationMs('', text, 's');
  } catch {
    return undefined;
  }
}

/** The text parsePrestopPolicy reads back: `adaptive`, `fixed:10`, `fixed:0.5`. */
export function formatPrestopPolicy(policy: PrestopPolicy): string {
  return policy.mode === 'adaptive' ? 'adaptive' : `fixed:${policy.seconds}`;
}

/** The longest a policy holds SIGTERM back, in seconds (`adaptiveMaxSeconds` for adaptive). */
export function prestopPolicySeconds(policy: PrestopPolicy, adaptiveMaxSeconds: number): number {
  return policy.mode === 'fixed' ? policy.seconds : adaptiveMaxSeconds;
}
