import { LOCAL_CLUSTER_DEFAULTS } from '../cluster/local/config.js';
import { ENTRY_KINDS, type EntryKind } from '../cluster/local/entry-activity.js';
import { BALANCE_STRATEGIES, type BalanceStrategy } from '../cluster/local/entrypoint.js';
import { LocalClusterConfigError } from '../cluster/local/errors.js';
import { type PropagationRange, parsePropagation } from '../cluster/local/propagation.js';
import {
  formatPrestopPolicy,
  type PrestopPolicy,
  parsePrestopPolicy as parseAgentPrestop,
} from '../contract/index.js';
import {
  InvalidValueError,
  parseChoice,
  parseChoiceList,
  parseDurationMs,
  parsePositiveInt,
  parsePositiveNumber,
  parseScore,
  parseUrl,
  parseWholeNumber,
} from '../lib/values.js';
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
export type SidecarKind = (typeof SIDECARS)[number];

export interface RehearseConfig {
  /** A shell command; absent = the example quote app in each of `variants`. */
  readonly app?: string;
  readonly variants: readonly ExampleVariant[];
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

/** Runs a lib/values.ts grammar, turning its InvalidValueError into RehearseConfigError. */
function parsed<T>(setting: string, parse: (setting: string) => T): T {
  try {
    return parse(setting);
  } catch (err) {
    if (err instanceof InvalidValueError) throw new RehearseConfigError(setting, err.detail);
    throw err;
  }
}

/**
 * `adaptive`, or `fixed:<seconds>` (`fixed:10`, `fixed:2.5`): the contract's one preStop grammar.
 * Throws RehearseConfigError naming `prestop`.
 */
function parsePrestopPolicy(value: string): PrestopPolicy {
  return parsed('prestop', (setting) => parseAgentPrestop(setting, value));
}

/** The rehearsal's balance when none is given: affinity for the example app, whose memory sessions need it. */
export function defaultBalance(mode: 'app' | 'example'): BalanceStrategy {
  return mode === 'app' ? LOCAL_CLUSTER_DEFAULTS.balance : 'cookie';
}

/** `--entry`, or `--compare-entries` (two or more distinct kinds); not both. */
function entriesOf(input: RehearseInput): EntryKind[] {
  const compare = given(input, 'compareEntries');
  if (!compare) return [parsed('entry', (s) => parseChoice(s, text(input, 'entry'), ENTRY_KINDS))];
  if (given(input, 'entry'))
    throw new RehearseConfigError('compare-entries', 'give --entry or --compare-entries, not both');
  const list = parsed('compare-entries', (s) => parseChoiceList(s, compare, ENTRY_KINDS));
  if (new Set(list).size !== list.length || list.length < 2)
    throw new RehearseConfigError(
      'compare-entries',
      `expected two or more different entry points, got ${compare}`,
    );
  return list;
}

/** Parses every setting and checks the cross-field rules; throws one RehearseConfigError naming the setting. */
export function resolveRehearseConfig(input: RehearseInput): RehearseConfig {
  const app = given(input, 'app');
  const variants = parsed('variants', (s) => parseChoiceList(s, text(input, 'variants'), EXAMPLE_VARIANTS));
  const propagationText = text(input, 'propagation');
  let propagation: PropagationRange;
  try {
    propagation = parsePropagation(propagationText);
  } catch (err) {
    if (err instanceof LocalClusterConfigError)
      throw new RehearseConfigError('propagation', err.message.replace(/^propagation: /, ''));
    throw err;
  }
  const maxSurge = parsed('max-surge', (s) => parseWholeNumber(s, text(input, 'maxSurge')));
  const maxUnavailable = parsed('max-unavailable', (s) => parseWholeNumber(s, text(input, 'maxUnavailable')));
  if (maxSurge === 0 && maxUnavailable === 0)
    throw new RehearseConfigError('max-surge', 'max-surge and max-unavailable cannot both be 0');
  const readyPath = text(input, 'readyPath');
  if (!readyPath.startsWith('/'))
    throw new RehearseConfigError('ready-path', `must start with /, got ${JSON.stringify(readyPath)}`);
  const gateText = given(input, 'gate');
  const seedText = given(input, 'seed');
  const scenario = given(input, 'scenario');
  const websockets = given(input, 'websockets');
  const balanceText = given(input, 'balance');
  const natsUrlText = given(input, 'natsUrl');
  const redisUrlText = given(input, 'redisUrl');
  const natsUrl = natsUrlText && parsed('nats-url', (s) => parseUrl(s, natsUrlText, ['nats']));
  const redisUrl = redisUrlText && parsed('redis-url', (s) => parseUrl(s, redisUrlText, ['redis']));
  const replicas = parsed('replicas', (s) => parsePositiveInt(s, text(input, 'replicas')));
  const prestopPolicy = parsePrestopPolicy(text(input, 'prestop'));
  const graceSeconds = parsed('grace', (s) => parsePositiveNumber(s, text(input, 'grace')));
  // The agent refuses this at start (agent/config.ts); checked here so nothing starts first.
  if (prestopPolicy.mode === 'fixed' && prestopPolicy.seconds > graceSeconds)
    throw new RehearseConfigError(
      'prestop',
      `fixed wait ${prestopPolicy.seconds}s is above the grace period of ${graceSeconds}s (--grace)`,
    );
  if (maxUnavailable >= replicas && maxSurge === 0)
    throw new RehearseConfigError(
      'max-unavailable',
      `${maxUnavailable} would take every one of ${replicas} replicas down at once`,
    );
  return {
    variants,
    replicas,
    sessions: parsed('sessions', (s) => parsePositiveInt(s, text(input, 'sessions'))),
    rate: parsed('rate', (s) => parsePositiveNumber(s, text(input, 'rate'))),
    userMix: parsed('user-mix', (s) => parseChoice(s, text(input, 'userMix'), USER_MIXES)),
    entries: entriesOf(input),
    propagation,
    propagationText,
    graceSeconds,
    prestop: formatPrestopPolicy(prestopPolicy),
    prestopPolicy,
    maxSurge,
    maxUnavailable,
    readyPath,
    sidecar: parsed('sidecar', (s) => parseChoice(s, text(input, 'sidecar'), SIDECARS)),
    json: input.json === true,
    warmupMs: parsed('warmup', (s) => parseDurationMs(s, text(input, 'warmup'), 's')),
    timeoutMs: parsed('timeout', (s) => parseDurationMs(s, text(input, 'timeout'), 's')),
    ...(app ? { app } : {}),
    ...(websockets ? { websockets } : {}),
    ...(balanceText
      ? { balance: parsed('balance', (s) => parseChoice(s, balanceText, BALANCE_STRATEGIES)) }
      : {}),
    ...(scenario ? { scenarioFile: scenario } : {}),
    ...(gateText !== undefined ? { gate: parsed('gate', (s) => parseScore(s, gateText)) } : {}),
    ...(seedText !== undefined ? { seed: parsed('seed', (s) => parseWholeNumber(s, seedText)) } : {}),
    ...(natsUrl ? { natsUrl } : {}),
    ...(redisUrl ? { redisUrl } : {}),
  };
}
