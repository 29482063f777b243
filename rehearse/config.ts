import { BALANCE_STRATEGIES, type BalanceStrategy } from '../cluster/local/entrypoint.js';
import { LocalClusterConfigError } from '../cluster/local/errors.js';
import { type PropagationRange, parsePropagation } from '../cluster/local/propagation.js';
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
  /** Absent = the mode's default: `cookie` for the example app (memory sessions need affinity to work at all), `round-robin` for `--app`. */
  readonly balance?: BalanceStrategy;
  readonly propagation: PropagationRange;
  readonly propagationText: string;
  readonly graceSeconds: number;
  /** The agent's preStop policy for the drained run (or the `--app` run): adaptive | fixed:<s>. */
  readonly prestop: string;
  readonly maxSurge: number;
  readonly maxUnavailable: number;
  readonly readyPath: string;
  readonly sidecar: SidecarKind;
  readonly json: boolean;
  /** Session-persistence threshold; without it no gate is applied. */
  readonly gate?: number;
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

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

function text(input: RehearseInput, key: keyof typeof REHEARSE_DEFAULTS): string {
  const v = input[key];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : REHEARSE_DEFAULTS[key];
}

function whole(setting: string, value: string, min: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min)
    throw new RehearseConfigError(setting, `expected a whole number ≥ ${min}, got ${JSON.stringify(value)}`);
  return n;
}

function positiveNumber(setting: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new RehearseConfigError(setting, `expected a number > 0, got ${JSON.stringify(value)}`);
  return n;
}

function duration(setting: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value);
  if (!m)
    throw new RehearseConfigError(
      setting,
      `expected a duration like 3s or 500ms, got ${JSON.stringify(value)}`,
    );
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 's']!);
}

function oneOf<T extends string>(setting: string, value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value))
    throw new RehearseConfigError(
      setting,
      `expected one of ${choices.join(', ')}, got ${JSON.stringify(value)}`,
    );
  return value as T;
}

/** `adaptive`, or `fixed:<seconds>` (`fixed:10`, `fixed:2.5`); returns the text the agent takes. */
export function parsePrestopPolicy(value: string): string {
  if (value === 'adaptive') return value;
  const m = /^fixed:(\d+(?:\.\d+)?)(ms|s)?$/.exec(value);
  if (!m)
    throw new RehearseConfigError(
      'prestop',
      `expected adaptive or fixed:<seconds>, got ${JSON.stringify(value)}`,
    );
  return value;
}

function score(value: string): number {
  const n = value.endsWith('%') ? Number(value.slice(0, -1)) / 100 : Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1)
    throw new RehearseConfigError(
      'gate',
      `expected a score between 0 and 1 (or a percentage), got ${JSON.stringify(value)}`,
    );
  return n;
}

function urlOf(setting: string, value: unknown, protocol: string): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new RehearseConfigError(setting, `expected a URL, got ${JSON.stringify(value)}`);
  }
  if (u.protocol !== `${protocol}:`)
    throw new RehearseConfigError(setting, `expected a ${protocol}:// URL, got ${JSON.stringify(value)}`);
  return value;
}

/** Parses every setting and checks the cross-field rules; throws one RehearseConfigError naming the setting. */
export function resolveRehearseConfig(input: RehearseInput): RehearseConfig {
  const app = typeof input.app === 'string' && input.app.trim() !== '' ? input.app.trim() : undefined;
  const variants = text(input, 'variants')
    .split(',')
    .map((v) => oneOf('variants', v.trim(), EXAMPLE_VARIANTS));
  const propagationText = text(input, 'propagation');
  let propagation: PropagationRange;
  try {
    propagation = parsePropagation(propagationText);
  } catch (err) {
    if (err instanceof LocalClusterConfigError)
      throw new RehearseConfigError('propagation', err.message.replace(/^propagation: /, ''));
    throw err;
  }
  const maxSurge = whole('max-surge', text(input, 'maxSurge'), 0);
  const maxUnavailable = whole('max-unavailable', text(input, 'maxUnavailable'), 0);
  if (maxSurge === 0 && maxUnavailable === 0)
    throw new RehearseConfigError('max-surge', 'max-surge and max-unavailable cannot both be 0');
  const readyPath = text(input, 'readyPath');
  if (!readyPath.startsWith('/'))
    throw new RehearseConfigError('ready-path', `must start with /, got ${JSON.stringify(readyPath)}`);
  const gateText = typeof input.gate === 'string' && input.gate.trim() !== '' ? input.gate.trim() : undefined;
  const seedText = typeof input.seed === 'string' && input.seed.trim() !== '' ? input.seed.trim() : undefined;
  const scenario =
    typeof input.scenario === 'string' && input.scenario.trim() !== '' ? input.scenario.trim() : undefined;
  const natsUrl = urlOf('nats-url', input.natsUrl, 'nats');
  const redisUrl = urlOf('redis-url', input.redisUrl, 'redis');
  const replicas = whole('replicas', text(input, 'replicas'), 1);
  if (maxUnavailable >= replicas && maxSurge === 0)
    throw new RehearseConfigError(
      'max-unavailable',
      `${maxUnavailable} would take every one of ${replicas} replicas down at once`,
    );
  return {
    variants,
    replicas,
    sessions: whole('sessions', text(input, 'sessions'), 1),
    rate: positiveNumber('rate', text(input, 'rate')),
    userMix: oneOf('user-mix', text(input, 'userMix'), USER_MIXES),
    propagation,
    propagationText,
    graceSeconds: positiveNumber('grace', text(input, 'grace')),
    prestop: parsePrestopPolicy(text(input, 'prestop')),
    maxSurge,
    maxUnavailable,
    readyPath,
    sidecar: oneOf('sidecar', text(input, 'sidecar'), SIDECARS),
    json: input.json === true,
    warmupMs: duration('warmup', text(input, 'warmup')),
    timeoutMs: duration('timeout', text(input, 'timeout')),
    ...(app ? { app } : {}),
    ...(typeof input.websockets === 'string' && input.websockets.trim() !== ''
      ? { websockets: input.websockets.trim() }
      : {}),
    ...(typeof input.balance === 'string' && input.balance.trim() !== ''
      ? { balance: oneOf('balance', input.balance.trim(), BALANCE_STRATEGIES) }
      : {}),
    ...(scenario ? { scenarioFile: scenario } : {}),
    ...(gateText !== undefined ? { gate: score(gateText) } : {}),
    ...(seedText !== undefined ? { seed: whole('seed', seedText, 0) } : {}),
    ...(natsUrl ? { natsUrl } : {}),
    ...(redisUrl ? { redisUrl } : {}),
  };
}
