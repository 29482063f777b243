import { LOCAL_CLUSTER_DEFAULTS } from '../cluster/local/config.js';
import type { EntryKind } from '../cluster/local/entry-activity.js';
import type { BalanceStrategy } from '../cluster/local/entrypoint.js';
import type { PropagationRange } from '../cluster/local/propagation.js';
import type { PrestopPolicy } from '../contract/index.js';
import { settingName } from '../lib/values.js';
import type { Threshold } from '../witness/thresholds.js';

// The settings of `drainwatch rehearse`, each defined once: its choices, its environment variable
// (REHEARSE_ENV), its default (REHEARSE_DEFAULTS), the RehearseConfig they resolve to, and how an
// error names it. Parsing and cross-checking them is config.ts.

export const EXAMPLE_VARIANTS = ['naive', 'drained'] as const;
export type ExampleVariant = (typeof EXAMPLE_VARIANTS)[number];
export const USER_MIXES = ['uniform', 'skewed'] as const;
export type UserMix = (typeof USER_MIXES)[number];
export const SIDECARS = ['agent', 'passthrough'] as const;
/** What the probes speak: HTTP/1.1 (with WebSockets), or gRPC over h2c through a per-connection entry point. */
export const REHEARSE_PROTOCOLS = ['http', 'grpc'] as const;
export type RehearseProtocol = (typeof REHEARSE_PROTOCOLS)[number];
export type SidecarKind = (typeof SIDECARS)[number];

export interface RehearseConfig {
  /** A shell command; absent = the example quote app in each of `variants`. */
  readonly app?: string;
  readonly variants: readonly ExampleVariant[];
  /** `grpc`: the example is examples/quote-grpc, the entry point balances connections (docs/grpc.md). */
  readonly protocol: RehearseProtocol;
  readonly replicas: number;
  readonly scenarioFile?: string;
  readonly sessions: number;
  /** WebSocket sessions, as the probe takes them: a count, a fraction or a percentage; absent = DEFAULT_WEBSOCKETS when the scenario has a WebSocket, else none. */
  readonly websockets?: string;
  /** Requests per second of one weight-1 session. */
  readonly rate: number;
  readonly userMix: UserMix;
  /** Absent = the mode's default (defaultBalance): `cookie` for the example app, `round-robin` for `--app`. */
  readonly balance?: BalanceStrategy;
  /** The entry points to run each app through, in order: `--entry`, or `--compare-entries`' list. */
  readonly entries: readonly EntryKind[];
  readonly propagation: PropagationRange;
  readonly propagationText: string;
  readonly graceSeconds: number;
  /** The agent's preStop policy for the drained run (or the `--app` run), parsed once here. */
  readonly prestopPolicy: PrestopPolicy;
  /** prestopPolicy as text (formatPrestopPolicy), for tables and logs. */
  readonly prestop: string;
  readonly maxSurge: number;
  readonly maxUnavailable: number;
  readonly readyPath: string;
  readonly sidecar: SidecarKind;
  readonly json: boolean;
  /** Session-persistence threshold; without it no gate is applied. */
  readonly gate?: number;
  /** `--threshold`s on the judged run's report (parsed by the CLI: witness/thresholds.ts). */
  readonly thresholds?: readonly Threshold[];
  /** Traffic before the rollout starts, so every session is logged in first. */
  readonly warmupMs: number;
  readonly timeoutMs: number;
  readonly seed?: number;
  readonly natsUrl?: string;
  readonly redisUrl?: string;
}

export const REHEARSE_DEFAULTS = {
  variants: 'naive,drained',
  protocol: 'http',
  replicas: '3',
  sessions: '30',
  rate: '2',
  userMix: 'uniform',
  entry: 'local',
  propagation: '1-5s',
  grace: '30',
  prestop: 'adaptive',
  maxSurge: '1',
  maxUnavailable: '0',
  readyPath: '/healthz',
  sidecar: 'agent',
  warmup: '3s',
  timeout: '120s',
} as const;

/** Share of probe sessions that keep a WebSocket when the scenario has one and none is asked for. */
export const DEFAULT_WEBSOCKETS = '0.3';

export const REHEARSE_ENV = {
  app: 'DRAINWATCH_APP',
  variants: 'DRAINWATCH_VARIANTS',
  protocol: 'DRAINWATCH_PROTOCOL',
  replicas: 'DRAINWATCH_REPLICAS',
  scenario: 'DRAINWATCH_SCENARIO',
  sessions: 'DRAINWATCH_SESSIONS',
  websockets: 'DRAINWATCH_WEBSOCKETS',
  rate: 'DRAINWATCH_PROBE_RATE',
  userMix: 'DRAINWATCH_USER_MIX',
  balance: 'DRAINWATCH_BALANCE',
  entry: 'DRAINWATCH_ENTRY',
  compareEntries: 'DRAINWATCH_COMPARE_ENTRIES',
  propagation: 'DRAINWATCH_PROPAGATION',
  grace: 'DRAINWATCH_GRACE_SECONDS',
  prestop: 'DRAINWATCH_PRESTOP',
  maxSurge: 'DRAINWATCH_MAX_SURGE',
  maxUnavailable: 'DRAINWATCH_MAX_UNAVAILABLE',
  readyPath: 'DRAINWATCH_READY_PATH',
  sidecar: 'DRAINWATCH_SIDECAR',
  gate: 'DRAINWATCH_GATE',
  warmup: 'DRAINWATCH_WARMUP',
  timeout: 'DRAINWATCH_ROLLOUT_TIMEOUT',
  seed: 'DRAINWATCH_SEED',
  natsUrl: 'NATS_URL',
  redisUrl: 'REDIS_URL',
} as const;

export type RehearseInput = Partial<Record<keyof typeof REHEARSE_ENV | 'json', string | boolean | undefined>>;

/** How errors name a setting: its environment variable and its flag, as either may have been set. */
export function rehearseSettingName(key: keyof typeof REHEARSE_ENV): string {
  return settingName(REHEARSE_ENV[key], `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
}

/**
 * The rehearsal's balance when none is given: affinity for the HTTP example app, whose memory
 * sessions need it; round-robin per connection for gRPC (kube-proxy's, which has no affinity).
 */
export function defaultBalance(
  mode: 'app' | 'example',
  protocol: RehearseProtocol = 'http',
): BalanceStrategy {
  return mode === 'app' || protocol === 'grpc' ? LOCAL_CLUSTER_DEFAULTS.balance : 'cookie';
}
