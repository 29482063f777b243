import { LOCAL_CLUSTER_DEFAULTS } from '../cluster/local/config.js';
import { ENTRY_KINDS, type EntryKind } from '../cluster/local/entry-activity.js';
import { TCP_BALANCE_STRATEGIES } from '../cluster/local/entry-tcp.js';
import { BALANCE_STRATEGIES, type BalanceStrategy } from '../cluster/local/entrypoint.js';
import { LocalClusterConfigError } from '../cluster/local/errors.js';
import { type PropagationRange, parsePropagation } from '../cluster/local/propagation.js';
import {
  formatPrestopPolicy,
  type PrestopPolicy,
  parsePrestopPolicy as parseAgentPrestop,
} from '../contract/index.js';
import {
  createSettingIssues,
  InvalidValueError,
  parseChoice,
  parseChoiceList,
  parseDurationMs,
  parsePositiveInt,
  parsePositiveNumber,
  parseScore,
  parseUrl,
  parseWholeNumber,
  settingName,
} from '../lib/values.js';
import { websocketSpecProblem } from '../probe/index.js';
import type { Threshold } from '../witness/thresholds.js';
import { RehearseConfigError } from './errors.js';

// The settings of `drainwatch rehearse`: flag > environment (REHEARSE_ENV) > REHEARSE_DEFAULTS.
// Values arrive as commander hands them over (strings, or booleans for switches) and are parsed
// and cross-checked here, so the CLI and the tests share one set of rules.

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

function text(input: RehearseInput, key: keyof typeof REHEARSE_DEFAULTS): string {
  const v = input[key];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : REHEARSE_DEFAULTS[key];
}

function given(input: RehearseInput, key: keyof RehearseInput): string | undefined {
  const v = input[key];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

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

/** `--entry`, or `--compare-entries` (two or more distinct kinds); not both. */
function entriesOf(input: RehearseInput, issues: Issues): EntryKind[] {
  const n = rehearseSettingName;
  const compare = given(input, 'compareEntries');
  if (!compare)
    return [issues.value(n('entry'), (s) => parseChoice(s, text(input, 'entry'), ENTRY_KINDS), 'local')];
  if (given(input, 'entry')) {
    issues.add(n('compareEntries'), 'give --entry or --compare-entries, not both');
    return ['local'];
  }
  const list = issues.value(
    n('compareEntries'),
    (s) => parseChoiceList(s, compare, ENTRY_KINDS),
    [] as EntryKind[],
  );
  if (!issues.has(n('compareEntries')) && (new Set(list).size !== list.length || list.length < 2))
    issues.add(n('compareEntries'), `expected two or more different entry points, got ${compare}`);
  return list.length > 0 ? list : ['local'];
}

/** `1-5s`, `2s` or `0`: the local cluster's propagation grammar, as an InvalidValueError. */
function propagationOf(setting: string, value: string): PropagationRange {
  try {
    return parsePropagation(value);
  } catch (err) {
    if (err instanceof LocalClusterConfigError)
      throw new InvalidValueError(setting, value, err.message.replace(/^propagation: /, ''));
    throw err;
  }
}

type Issues = ReturnType<typeof createSettingIssues>;

/** Every setting given as text, parsed; a bad one is recorded in `issues` and replaced by a fallback. */
function parseAll(input: RehearseInput, issues: Issues) {
  const n = rehearseSettingName;
  const optional = <T>(key: keyof typeof REHEARSE_ENV, parse: (s: string, v: string) => T): T | undefined => {
    const v = given(input, key);
    return v === undefined ? undefined : issues.value(n(key), (s) => parse(s, v), undefined);
  };
  return {
    variants: issues.value(
      n('variants'),
      (s) => parseChoiceList(s, text(input, 'variants'), EXAMPLE_VARIANTS),
      [...EXAMPLE_VARIANTS],
    ),
    propagation: issues.value(n('propagation'), (s) => propagationOf(s, text(input, 'propagation')), {
      minMs: 0,
      maxMs: 0,
    }),
    maxSurge: issues.value(n('maxSurge'), (s) => parseWholeNumber(s, text(input, 'maxSurge')), 1),
    maxUnavailable: issues.value(
      n('maxUnavailable'),
      (s) => parseWholeNumber(s, text(input, 'maxUnavailable')),
      0,
    ),
    protocol: issues.value(
      n('protocol'),
      (s) => parseChoice(s, text(input, 'protocol'), REHEARSE_PROTOCOLS),
      'http' as RehearseProtocol,
    ),
    replicas: issues.value(n('replicas'), (s) => parsePositiveInt(s, text(input, 'replicas')), 1),
    prestopPolicy: issues.value(n('prestop'), (s) => parseAgentPrestop(s, text(input, 'prestop')), {
      mode: 'adaptive',
    } as PrestopPolicy),
    graceSeconds: issues.value(n('grace'), (s) => parsePositiveNumber(s, text(input, 'grace')), 30),
    sessions: issues.value(n('sessions'), (s) => parsePositiveInt(s, text(input, 'sessions')), 1),
    rate: issues.value(n('rate'), (s) => parsePositiveNumber(s, text(input, 'rate')), 1),
    userMix: issues.value(n('userMix'), (s) => parseChoice(s, text(input, 'userMix'), USER_MIXES), 'uniform'),
    sidecar: issues.value(n('sidecar'), (s) => parseChoice(s, text(input, 'sidecar'), SIDECARS), 'agent'),
    warmupMs: issues.value(n('warmup'), (s) => parseDurationMs(s, text(input, 'warmup')), 0),
    timeoutMs: issues.value(n('timeout'), (s) => parseDurationMs(s, text(input, 'timeout')), 0),
    websockets: optional('websockets', (s, v) => {
      parseWebsocketSpec(s, v);
      return v;
    }),
    balance: optional('balance', (s, v) => parseChoice(s, v, BALANCE_STRATEGIES)),
    gate: optional('gate', parseScore),
    seed: optional('seed', (s, v) => parseWholeNumber(s, v)),
    natsUrl: optional('natsUrl', (s, v) => parseUrl(s, v, ['nats', 'tls'])),
    redisUrl: optional('redisUrl', (s, v) => parseUrl(s, v, ['redis', 'rediss'])),
  };
}

/** A count, a fraction or a percentage (the probe's --websockets), checked before anything starts. */
function parseWebsocketSpec(setting: string, value: string): void {
  const problem = websocketSpecProblem(value);
  if (problem) throw new InvalidValueError(setting, value, problem);
}

/** gRPC runs through the local entry point's per-connection mode: its balances, no nginx or HAProxy. */
function grpcRules(
  balance: BalanceStrategy | undefined,
  entries: readonly EntryKind[],
  issues: Issues,
): void {
  const n = rehearseSettingName;
  if (balance !== undefined && !(TCP_BALANCE_STRATEGIES as readonly string[]).includes(balance))
    issues.add(
      n('balance'),
      `${balance} needs HTTP; --protocol grpc balances connections: ${TCP_BALANCE_STRATEGIES.join(' or ')}`,
    );
  const other = entries.find((e) => e !== 'local');
  if (other)
    issues.add(
      n(entries.length > 1 ? 'compareEntries' : 'entry'),
      `--protocol grpc runs through the local entry point only (per-connection mode), not ${other}`,
    );
}

/**
 * Parses every setting and checks the cross-field rules before anything starts. Throws
 * RehearseConfigError naming the setting (`ENV (--flag)`), or InvalidSettingsError naming every
 * bad one when there are several.
 */
export function resolveRehearseConfig(input: RehearseInput): RehearseConfig {
  const issues = createSettingIssues((setting, detail) => new RehearseConfigError(setting, detail));
  const config = buildConfig(input, issues);
  issues.throwIfAny();
  return config;
}

/**
 * Every bad setting of `input` as [`ENV (--flag)`, reason], in the order resolveRehearseConfig
 * names them (none: empty), so the CLI can name them with its own options' issues in one message.
 */
export function rehearseConfigIssues(input: RehearseInput): [string, string][] {
  const found: [string, string][] = [];
  buildConfig(
    input,
    createSettingIssues((setting, detail) => {
      found.push([setting, detail]);
      return new RehearseConfigError(setting, detail);
    }),
  );
  return found;
}

/** The config of `input`, each bad setting recorded in `issues` and replaced by a fallback. */
function buildConfig(input: RehearseInput, issues: Issues): RehearseConfig {
  const n = rehearseSettingName;
  const v = parseAll(input, issues);
  const entries = entriesOf(input, issues);
  const readyPath = text(input, 'readyPath');
  if (!readyPath.startsWith('/'))
    issues.add(n('readyPath'), `must start with /, got ${JSON.stringify(readyPath)}`);
  const ok = (...keys: (keyof typeof REHEARSE_ENV)[]) => keys.every((k) => !issues.has(n(k)));
  if (ok('maxSurge', 'maxUnavailable') && v.maxSurge === 0 && v.maxUnavailable === 0)
    issues.add(n('maxSurge'), 'max-surge and max-unavailable cannot both be 0');
  // The agent refuses this at start (agent/config.ts); checked here so nothing starts first.
  if (ok('prestop', 'grace') && v.prestopPolicy.mode === 'fixed' && v.prestopPolicy.seconds > v.graceSeconds)
    issues.add(
      n('prestop'),
      `fixed wait ${v.prestopPolicy.seconds}s is above the grace period of ${v.graceSeconds}s (--grace)`,
    );
  if (ok('maxSurge', 'maxUnavailable', 'replicas') && v.maxUnavailable >= v.replicas && v.maxSurge === 0)
    issues.add(
      n('maxUnavailable'),
      `${v.maxUnavailable} would take every one of ${v.replicas} replicas down at once`,
    );
  if (ok('protocol') && v.protocol === 'grpc') grpcRules(v.balance, entries, issues);
  const app = given(input, 'app');
  const scenario = given(input, 'scenario');
  return {
    variants: v.variants,
    protocol: v.protocol,
    replicas: v.replicas,
    sessions: v.sessions,
    rate: v.rate,
    userMix: v.userMix,
    entries,
    propagation: v.propagation,
    propagationText: text(input, 'propagation'),
    graceSeconds: v.graceSeconds,
    prestop: formatPrestopPolicy(v.prestopPolicy),
    prestopPolicy: v.prestopPolicy,
    maxSurge: v.maxSurge,
    maxUnavailable: v.maxUnavailable,
    readyPath,
    sidecar: v.sidecar,
    json: input.json === true,
    warmupMs: v.warmupMs,
    timeoutMs: v.timeoutMs,
    ...(app ? { app } : {}),
    ...(v.websockets ? { websockets: v.websockets } : {}),
    ...(v.balance ? { balance: v.balance } : {}),
    ...(scenario ? { scenarioFile: scenario } : {}),
    ...(v.gate !== undefined ? { gate: v.gate } : {}),
    ...(v.seed !== undefined ? { seed: v.seed } : {}),
    ...(v.natsUrl ? { natsUrl: v.natsUrl } : {}),
    ...(v.redisUrl ? { redisUrl: v.redisUrl } : {}),
  };
}
