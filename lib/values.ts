// The one grammar per kind of setting value, shared by every command and component: durations,
// host:port, URLs, scores, whole numbers, positive numbers and choices. Zod-free on purpose: the
// agent loads this module and must stay small. Each parser throws InvalidValueError, which a
// component may rewrap into its own config error class (the `detail` is the one-line reason).

/** A setting value that does not fit its grammar. `config-*` codes map to exit 2 in the CLI. */
export class InvalidValueError extends Error {
  readonly code = 'config-invalid-value';
  /** The setting as the user knows it (an env var, a flag, or both). */
  readonly setting: string;
  /** The value as given. */
  readonly value: string;
  /** The reason without the setting, e.g. `expected a duration like 3s or 500ms, got "soon"`. */
  readonly detail: string;
  constructor(setting: string, value: string, detail: string) {
    super(setting ? `${setting}: ${detail}` : detail);
    this.name = 'InvalidValueError';
    this.setting = setting;
    this.value = value;
    this.detail = detail;
  }
}

function invalid(setting: string, value: string, expected: string): never {
  throw new InvalidValueError(setting, value, `expected ${expected}, got ${JSON.stringify(value)}`);
}

// ---- durations ----------------------------------------------------------------------------------

/** Units of a duration. `d` is kept because the collector's retention settings took it (`7d`). */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

export const DURATION_UNIT_MS: Readonly<Record<DurationUnit, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;

/**
 * `500ms`, `3s`, `2m`, `1h`, `7d`, or a bare number of seconds: the one duration grammar of every
 * flag and environment variable (docs/architecture.md §3). `bareUnit` is only for a range whose
 * unit is written once at its end (`1-5s`, cluster/local/propagation.ts). Returns milliseconds,
 * rounded. Throws InvalidValueError.
 */
export function parseDurationMs(setting: string, value: string, bareUnit: DurationUnit = 's'): number {
  const m = DURATION.exec(value.trim());
  if (!m) invalid(setting, value, 'a duration like 3s, 500ms or 2m');
  return Math.round(Number(m[1]) * DURATION_UNIT_MS[(m[2] as DurationUnit | undefined) ?? bareUnit]);
}

/** The duration grammar as every command's help states it once (docs/architecture.md §3). */
export const DURATION_GRAMMAR_HELP =
  'Durations: 500ms, 30s, 2m, 1h or 7d (decimals too: 2.5s); a bare number is seconds.';

/** `3000` → `3s`, `500` → `500ms`, `300000` → `5m`: the shortest exact text of a duration, for help and labels. */
export function formatDurationMs(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const n = ms / DURATION_UNIT_MS[unit];
    if (ms !== 0 && Number.isInteger(n)) return `${n}${unit}`;
  }
  return `${ms}ms`;
}

// ---- host:port ----------------------------------------------------------------------------------

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

const HOST_PORT = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]*)):(\d{1,5})$/;

/** `host:port`, `[v6]:port` or `:port` (all interfaces: 0.0.0.0). Port 0 lets the kernel choose. */
export function tryParseHostPort(value: string): HostPort | undefined {
  const m = HOST_PORT.exec(value.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** As tryParseHostPort; throws InvalidValueError. */
export function parseHostPort(setting: string, value: string): HostPort {
  return tryParseHostPort(value) ?? invalid(setting, value, 'host:port');
}

export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/**
 * A comma-separated list of `host:port` (Redis Cluster seed nodes), at least one, each with a host
 * and a port above 0. Throws InvalidValueError naming the first bad item.
 */
export function parseHostPortList(setting: string, value: string): HostPort[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) invalid(setting, value, 'a comma-separated list of host:port');
  return items.map((item) => {
    const hp = tryParseHostPort(item);
    if (!hp || hp.port === 0 || /^:/.test(item)) invalid(setting, item, 'host:port with a host and a port');
    return hp;
  });
}

// ---- URLs ---------------------------------------------------------------------------------------

/** A URL whose scheme (without `:`) is one of `schemes`; returns the text as given. */
export function parseUrl(setting: string, value: string, schemes: readonly string[]): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    invalid(setting, value, 'a URL');
  }
  if (!schemes.includes(u.protocol.replace(/:$/, ''))) {
    invalid(setting, value, `a ${schemes.join(' or ')} URL`);
  }
  return value;
}

/**
 * A comma-separated list of URLs (the NATS convention for several servers, `nats://a:4222,nats://b:4222`),
 * each as parseUrl takes it; returns the list's text normalised (no blanks around commas).
 */
export function parseUrlList(setting: string, value: string, schemes: readonly string[]): string {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === ''))
    invalid(setting, value, `a comma-separated list of ${schemes.join(' or ')} URLs`);
  return items.map((item) => parseUrl(setting, item, schemes)).join(',');
}

/** The servers of a URL list parseUrlList accepted, as a client's `servers` option takes them. */
export function splitUrlList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

// ---- numbers ------------------------------------------------------------------------------------

/** A ratio between 0 and 1; `95%` is accepted too. */
export function parseScore(setting: string, value: string): number {
  const v = value.trim();
  const n = v.endsWith('%') ? Number(v.slice(0, -1)) / 100 : Number(v);
  if (v === '' || !Number.isFinite(n) || n < 0 || n > 1) {
    invalid(setting, value, 'a score between 0 and 1 (or a percentage)');
  }
  return n;
}

/** Digits only, as a safe integer ≥ `min` (default 0). */
export function parseWholeNumber(setting: string, value: string, min = 0): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
    invalid(setting, value, min === 1 ? 'a positive whole number' : `a whole number ≥ ${min}`);
  }
  return n;
}

/** A whole number ≥ 1. */
export function parsePositiveInt(setting: string, value: string): number {
  return parseWholeNumber(setting, value, 1);
}

/** A TCP port, 1..65535. */
export function parsePort(setting: string, value: string): number {
  const n = parseWholeNumber(setting, value, 1);
  if (n > 65535) invalid(setting, value, 'a port 1-65535');
  return n;
}

/** A decimal number > 0 (`2`, `0.5`). */
export function parsePositiveNumber(setting: string, value: string): number {
  const v = value.trim();
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !Number.isFinite(n) || n <= 0) invalid(setting, value, 'a number > 0');
  return n;
}

// ---- choices ------------------------------------------------------------------------------------

/** One of `choices`, exactly. */
export function parseChoice<T extends string>(setting: string, value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value))
    invalid(setting, value, `one of ${choices.join(', ')}`);
  return value as T;
}

/** A comma-separated list of `choices` (`naive,drained`). */
export function parseChoiceList<T extends string>(
  setting: string,
  value: string,
  choices: readonly T[],
): T[] {
  return value.split(',').map((v) => parseChoice(setting, v.trim(), choices));
}

// ---- several bad settings at once ---------------------------------------------------------------

/**
 * Two or more bad settings, found together before anything started (docs/architecture.md §3): the
 * message names every one, one line each. `issues` are the component's own per-setting errors.
 */
export class InvalidSettingsError extends Error {
  readonly code = 'config-invalid-settings';
  readonly issues: readonly Error[];
  constructor(issues: readonly Error[]) {
    super(`${issues.length} invalid settings:\n${issues.map((e) => `  ${e.message}`).join('\n')}`);
    this.name = 'InvalidSettingsError';
    this.issues = issues;
  }
}

/** Collects every bad setting of one command or component instead of stopping at the first. */
export interface SettingIssues {
  /** `parse(setting)`; on InvalidValueError records it and returns `fallback`. Other errors propagate. */
  value<T>(setting: string, parse: (setting: string) => T, fallback: T): T;
  /** Records a broken rule (a cross-field rule, a missing setting). */
  add(setting: string, detail: string): void;
  /** True when `setting` already has an issue: cross-field rules over a bad value are skipped. */
  has(setting: string): boolean;
  /** Throws nothing when all is well, the one error when one setting is bad, else InvalidSettingsError. */
  throwIfAny(): void;
}

/** `toError(setting, detail)` builds the component's own error class for one bad setting. */
export function createSettingIssues(toError: (setting: string, detail: string) => Error): SettingIssues {
  const errors: Error[] = [];
  const bad = new Set<string>();
  const add = (setting: string, detail: string): void => {
    bad.add(setting);
    errors.push(toError(setting, detail));
  };
  return {
    value(setting, parse, fallback) {
      try {
        return parse(setting);
      } catch (err) {
        if (!(err instanceof InvalidValueError)) throw err;
        add(setting, err.detail);
        return fallback;
      }
    },
    add,
    has: (setting) => bad.has(setting),
    throwIfAny() {
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1) throw new InvalidSettingsError(errors);
    },
  };
}

/** How an error names a setting either of whose sources the user may have set: `ENV (--flag)`. */
export function settingName(env: string, flag: string): string {
  return `${env} (${flag})`;
}
