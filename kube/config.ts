import { AGENT_PORTS, AGENT_SETTINGS, type PrestopPolicy, parsePrestopPolicy } from '../contract/index.js';
import { InvalidValueError, parseDurationMs } from '../lib/values.js';
import { VERSION } from '../lib/version.js';
import { KubeConfigError } from './errors.js';

// Settings of `drainwatch inject` and `drainwatch lint`. The ports and env names match the agent's
// (docs/architecture.md §3) so an injected pod talks to the agent the CLI ships.

export const AGENT_CONTAINER_NAME = 'drainwatch-agent';
export const PROXY_PORT_NAME = 'dw-proxy';
export const ADMIN_PORT_NAME = 'dw-admin';
/** Pod label of injected pods, which the agent NetworkPolicy selects. */
export const AGENT_POD_LABEL = 'drainwatch.dev/agent';

export const ANNOTATIONS = {
  /** `"false"` on a workload or its pod template: never inject it. */
  inject: 'drainwatch.dev/inject',
  /** Set by inject to the drainwatch version: the workload already carries the agent. */
  injected: 'drainwatch.dev/injected',
  /** The app container port the agent fronts (number or port name). */
  appPort: 'drainwatch.dev/app-port',
  /** `external` (Redis, a database) or `memory`: where the workload keeps user sessions. */
  sessions: 'drainwatch.dev/sessions',
  /** `"true"`: the workload serves WebSockets, SSE, gRPC streams or other long-lived connections. */
  longLived: 'drainwatch.dev/long-lived-connections',
  /** How long a long-lived connection may live before the server closes it (e.g. `10m`). */
  maxConnectionAge: 'drainwatch.dev/max-connection-age',
  /**
   * `per-connection` (default: kube-proxy, gRPC's pick_first) or `per-call` (a mesh or L7 proxy
   * balances each call): how a gRPC server's clients reach its pods.
   */
  grpcBalancing: 'drainwatch.dev/grpc-balancing',
  /** The longest a gRPC stream (a call) of the workload lasts, in the duration grammar (`30s`, `2m`). */
  grpcMaxStream: 'drainwatch.dev/grpc-max-stream',
  /**
   * `http`, `tcp` or `skip`: how the agent fronts the app port (parse HTTP/1.x, tunnel TCP, or no
   * agent). Without it inject decides from the Service's appProtocol, port names and well-known ports.
   */
  protocol: 'drainwatch.dev/protocol',
  /**
   * How long the app needs to drain after SIGTERM (overrides the drain budget): the duration grammar
   * of DRAINWATCH_DRAIN_BUDGET (`20`, `20s`, `1m`; a bare number is seconds).
   */
  drainBudget: 'drainwatch.dev/drain-budget-seconds',
  /** `rule-a,rule-b` (or `all`): lint rules that do not apply to this object. */
  lintIgnore: 'drainwatch.dev/lint-ignore',
} as const;

/** The agent's DRAINWATCH_DRAIN_BUDGET default, in seconds (contract agent settings). */
export const AGENT_DRAIN_BUDGET_SECONDS =
  parseDurationMs(AGENT_SETTINGS.drainBudget.env, AGENT_SETTINGS.drainBudget.default, 's') / 1000;
/** The agent's DRAINWATCH_PRESTOP_MIN default, in seconds: an adaptive maximum below it is refused. */
export const AGENT_PRESTOP_MIN_SECONDS =
  parseDurationMs(AGENT_SETTINGS.prestopMin.env, AGENT_SETTINGS.prestopMin.default, 's') / 1000;

export interface AgentResources {
  readonly requests: Readonly<Record<string, string>>;
  readonly limits: Readonly<Record<string, string>>;
}

export interface InjectOptions {
  readonly agentImage: string;
  /** Written into the `drainwatch.dev/injected` annotation. */
  readonly version: string;
  readonly adminPort: number;
  readonly proxyPort: number;
  readonly natsUrl: string;
  /**
   * `adaptive`, `fixed:<seconds>`, or `auto`: adaptive, except that an existing `sleep N` preStop
   * keeps its delay as `fixed:N`.
   */
  readonly preStop: string;
  /** The longest an adaptive preStop waits for endpoint propagation, in seconds (may be fractional). */
  readonly preStopMaxSeconds: number;
  /** Seconds the app needs after SIGTERM to finish in-flight work (may be fractional). */
  readonly drainBudgetSeconds: number;
  /** terminationGracePeriodSeconds Kubernetes assumes when a pod spec sets none. */
  readonly defaultGraceSeconds: number;
  readonly resources: AgentResources;
}

export const DEFAULT_INJECT_OPTIONS: InjectOptions = {
  agentImage: `ghcr.io/drainwatch/agent:${VERSION}`,
  version: VERSION,
  adminPort: AGENT_PORTS.admin,
  proxyPort: AGENT_PORTS.traffic,
  natsUrl: 'nats://nats.drainwatch.svc.cluster.local:4222',
  preStop: 'auto',
  preStopMaxSeconds: 15,
  // The agent's own default (its settings table), so an injected agent needs no env for it.
  drainBudgetSeconds: AGENT_DRAIN_BUDGET_SECONDS,
  defaultGraceSeconds: 30,
  resources: {
    requests: { cpu: '50m', memory: '64Mi' },
    limits: { cpu: '500m', memory: '128Mi' },
  },
};

export interface LintOptions {
  /** Named in findings' locations (a file path, or `<stdin>`). */
  readonly source: string;
  /** Seconds the app needs after SIGTERM (may be fractional). */
  readonly drainBudgetSeconds: number;
  /** What an adaptive agent preStop may take at most (an httpGet to the agent's /prestop). */
  readonly agentPreStopMaxSeconds: number;
  readonly defaultGraceSeconds: number;
}

export const DEFAULT_LINT_OPTIONS: LintOptions = {
  source: '<stdin>',
  drainBudgetSeconds: DEFAULT_INJECT_OPTIONS.drainBudgetSeconds,
  agentPreStopMaxSeconds: DEFAULT_INJECT_OPTIONS.preStopMaxSeconds,
  defaultGraceSeconds: DEFAULT_INJECT_OPTIONS.defaultGraceSeconds,
};

/** Inject's preStop: the agent's policy, or `auto` (adaptive unless an existing `sleep N` stays fixed). */
export type PreStopPolicy = { readonly mode: 'auto' } | PrestopPolicy;

/**
 * `auto`, or the agent's policy text (contract parsePrestopPolicy). A fixed wait must be whole
 * seconds, as terminationGracePeriodSeconds is a whole number. Throws KubeConfigError.
 */
export function parsePreStopPolicy(value: string): PreStopPolicy {
  if (value === 'auto') return { mode: 'auto' };
  let policy: PrestopPolicy | undefined;
  try {
    policy = parsePrestopPolicy('preStop policy', value);
  } catch (err) {
    if (!(err instanceof InvalidValueError)) throw err;
  }
  if (policy && (policy.mode === 'adaptive' || Number.isInteger(policy.seconds))) return policy;
  throw new KubeConfigError(
    `preStop policy: expected auto, adaptive or fixed:<seconds>, got ${JSON.stringify(value)}`,
  );
}

/**
 * The workload's `drainwatch.dev/drain-budget-seconds` annotation in seconds (the duration grammar
 * of lib/values.ts, a bare number in seconds, as the agent's DRAINWATCH_DRAIN_BUDGET), else
 * `fallback` when absent or not a duration.
 */
export function drainBudgetSecondsOf(
  annotations: Readonly<Record<string, string>>,
  fallback: number,
): number {
  const text = annotations[ANNOTATIONS.drainBudget];
  if (text === undefined) return fallback;
  try {
    return parseDurationMs(ANNOTATIONS.drainBudget, text, 's') / 1000;
  } catch {
    return fallback;
  }
}

/** Cross-field checks, run once before any manifest is touched. */
export function resolveInjectOptions(partial: Partial<InjectOptions> = {}): InjectOptions {
  const o: InjectOptions = { ...DEFAULT_INJECT_OPTIONS, ...partial };
  parsePreStopPolicy(o.preStop);
  for (const [name, port] of [
    ['admin port', o.adminPort],
    ['proxy port', o.proxyPort],
  ] as const) {
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new KubeConfigError(`${name}: expected 1-65535, got ${port}`);
  }
  if (o.adminPort === o.proxyPort)
    throw new KubeConfigError(`admin port and proxy port must differ (both ${o.adminPort})`);
  for (const [name, v] of [
    ['preStop max seconds', o.preStopMaxSeconds],
    ['drain budget seconds', o.drainBudgetSeconds],
  ] as const) {
    if (!Number.isFinite(v) || v < 0) throw new KubeConfigError(`${name}: expected a duration ≥ 0, got ${v}`);
  }
  // The injected agent refuses a maximum below its minimum (agent/config.ts).
  if (o.preStopMaxSeconds < AGENT_PRESTOP_MIN_SECONDS)
    throw new KubeConfigError(
      `preStop max: ${o.preStopMaxSeconds}s is below the agent's preStop minimum of ${AGENT_PRESTOP_MIN_SECONDS}s`,
    );
  if (!Number.isInteger(o.defaultGraceSeconds) || o.defaultGraceSeconds < 0)
    throw new KubeConfigError(
      `default grace seconds: expected a whole number ≥ 0, got ${o.defaultGraceSeconds}`,
    );
  if (!o.agentImage.trim()) throw new KubeConfigError('agent image: must not be empty');
  return o;
}
