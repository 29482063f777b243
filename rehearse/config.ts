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
} from '../lib/values.js';
import { websocketSpecProblem } from '../probe/index.js';
import { RehearseConfigError } from './errors.js';
import {
  EXAMPLE_VARIANTS,
  REHEARSE_DEFAULTS,
  type REHEARSE_ENV,
  REHEARSE_PROTOCOLS,
  type RehearseConfig,
  type RehearseInput,
  type RehearseProtocol,
  rehearseSettingName,
  SIDECARS,
  USER_MIXES,
} from './settings.js';

// Resolving the settings of `drainwatch rehearse` (settings.ts): flag > environment (REHEARSE_ENV)
// > REHEARSE_DEFAULTS. Values arrive as commander hands them over (strings, or booleans for
// switches) and are parsed and cross-checked here, so the CLI and the tests share one set of rules.

function text(input: RehearseInput, key: keyof typeof REHEARSE_DEFAULTS): string {
  const v = input[key];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : REHEARSE_DEFAULTS[key];
}

function given(input: RehearseInput, key: keyof RehearseInput): string | undefined {
  const v = input[key];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
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
