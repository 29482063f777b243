import {
  InvalidValueError,
  parseDurationMs,
  parsePositiveNumber,
  parseScore,
  parseWholeNumber,
} from '../lib/values.js';

// k6-style thresholds (`--threshold 'latency.p99Ms < 250ms'`): parsing against a catalogue of the
// figures a JSON output holds, evaluation against that output, and the ✓/✗ summary block. Pure:
// no I/O, no clock. The catalogues (which names exist, of which kind) are threshold-figures.ts.

/**
 * What a figure measures, and so the grammar of a threshold's value (lib/values.ts):
 * `ratio` 0..1 or a percentage (parseScore: `0.995`, `99.5%`); `count` a whole number;
 * `ms` a duration (parseDurationMs, a bare number is milliseconds: `250ms`, `1.5s`, `250`);
 * `seconds` a duration (a bare number is seconds); `number` a decimal number > 0 (`1.5`).
 */
export type FigureKind = 'ratio' | 'count' | 'ms' | 'seconds' | 'number';

export interface Figure {
  /** Its path in the JSON output, dots between keys: `failedByCause.cut-in-flight`. */
  readonly name: string;
  readonly kind: FigureKind;
}

export interface FigureCatalogue {
  /** What the figures belong to, for messages: `the rollout report`. */
  readonly subject: string;
  readonly figures: readonly Figure[];
  /** Other names accepted for a figure (`sessionPersistence` → `scores.sessionPersistence`). */
  readonly aliases: Readonly<Record<string, string>>;
}

/** Longest first, so `<=` is never read as `<` followed by `=`. */
export const THRESHOLD_OPERATORS = ['<=', '>=', '==', '!=', '<', '>'] as const;
export type ThresholdOperator = (typeof THRESHOLD_OPERATORS)[number];

export interface Threshold {
  /** The figure's path (an alias is resolved to it). */
  readonly name: string;
  readonly kind: FigureKind;
  readonly op: ThresholdOperator;
  /** The value as written (`250ms`, `99.5%`). */
  readonly text: string;
  /** The value in the figure's own unit (a ratio 0..1, ms, s, a count). */
  readonly limit: number;
}

/** A threshold that does not parse, or names no figure: a usage error (exit 2). */
export class ThresholdError extends Error {
  readonly code = 'config-threshold';
  /**
   * The reason without the flag (`unknown figure "x" of the probe summary; valid names: …`), so
   * the CLI can name it with the command's other bad options (cli/thresholds.ts).
   */
  readonly detail: string;
  constructor(detail: string, message = `--threshold: ${detail}`) {
    super(message);
    this.name = 'ThresholdError';
    this.detail = detail;
  }
}

const EXPRESSION = /^\s*([A-Za-z][\w.-]*)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$/;

/** Names grouped by their parent: `failedByCause.{late-arrival,cut-in-flight}` (for error messages). */
export function compactNames(names: readonly string[]): string {
  const groups = new Map<string, string[]>();
  for (const n of names) {
    const i = n.lastIndexOf('.');
    const parent = i < 0 ? '' : n.slice(0, i);
    groups.set(parent, [...(groups.get(parent) ?? []), n.slice(i + 1)]);
  }
  const out: string[] = [];
  for (const [parent, leaves] of groups) {
    if (parent === '') out.push(...leaves);
    else out.push(leaves.length === 1 ? `${parent}.${leaves[0]}` : `${parent}.{${leaves.join(',')}}`);
  }
  return out.join(', ');
}

function limitOf(kind: FigureKind, setting: string, value: string): number {
  switch (kind) {
    case 'ratio':
      return parseScore(setting, value);
    case 'count':
      return parseWholeNumber(setting, value);
    case 'ms':
      return parseDurationMs(setting, value, 'ms');
    case 'seconds':
      return parseDurationMs(setting, value, 's') / 1000;
    case 'number':
      return parsePositiveNumber(setting, value);
  }
}

/**
 * `name op value`, e.g. `scores.sessionPersistence >= 99.5%`. Throws ThresholdError: a malformed
 * expression, an unknown name (listing the valid ones), or a value outside the figure's grammar.
 */
export function parseThreshold(text: string, catalogue: FigureCatalogue): Threshold {
  const m = EXPRESSION.exec(text);
  if (!m)
    throw new ThresholdError(
      `expected "name op value" with op one of ${THRESHOLD_OPERATORS.join(' ')}, got ${JSON.stringify(text)}`,
    );
  const [, given, op, value] = m as unknown as [string, string, ThresholdOperator, string];
  const name = catalogue.aliases[given] ?? given;
  const figure = catalogue.figures.find((f) => f.name === name);
  if (!figure)
    throw new ThresholdError(
      `unknown figure ${JSON.stringify(given)} of ${catalogue.subject}; valid names: ${compactNames(catalogue.figures.map((f) => f.name))}`,
    );
  try {
    return { name, kind: figure.kind, op, text: value, limit: limitOf(figure.kind, name, value) };
  } catch (err) {
    if (err instanceof InvalidValueError) {
      const detail = `${JSON.stringify(text)}: ${err.detail}`;
      throw new ThresholdError(detail, `--threshold ${detail}`);
    }
    throw err;
  }
}

/**
 * Every threshold of `texts` and every problem, one ThresholdError each, without throwing: a text
 * may hold several separated by `;` (the form of DRAINWATCH_THRESHOLDS).
 */
export function readThresholds(
  texts: readonly string[],
  catalogue: FigureCatalogue,
): { readonly thresholds: Threshold[]; readonly problems: ThresholdError[] } {
  const thresholds: Threshold[] = [];
  const problems: ThresholdError[] = [];
  for (const part of texts.flatMap((t) => t.split(';')).map((t) => t.trim())) {
    if (part === '') continue;
    try {
      thresholds.push(parseThreshold(part, catalogue));
    } catch (err) {
      if (!(err instanceof ThresholdError)) throw err;
      problems.push(err);
    }
  }
  return { thresholds, problems };
}

/**
 * Every threshold of `texts` (see readThresholds). All problems are reported at once, one line
 * each, in one ThresholdError.
 */
export function parseThresholds(texts: readonly string[], catalogue: FigureCatalogue): Threshold[] {
  const { thresholds, problems } = readThresholds(texts, catalogue);
  if (problems.length > 0)
    throw new ThresholdError(
      problems.map((p) => p.detail).join('\n'),
      problems.map((p) => p.message).join('\n'),
    );
  return thresholds;
}

export interface ThresholdResult {
  readonly name: string;
  readonly op: ThresholdOperator;
  /** The value as written. */
  readonly threshold: string;
  /** The limit in the figure's unit. */
  readonly limit: number;
  /** The measured figure; null when nothing was observed (a threshold on it fails). */
  readonly value: number | null;
  readonly passed: boolean;
}

export interface ThresholdVerdict {
  readonly results: readonly ThresholdResult[];
  /** Every threshold held and the run can be judged. */
  readonly passed: boolean;
  /** Why the run cannot be judged (an overloaded probe): neither pass nor fail; absent when it can. */
  readonly inconclusive?: string;
}

const COMPARE: Readonly<Record<ThresholdOperator, (a: number, b: number) => boolean>> = {
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
};

/** The figure at `name` in `output`; a count absent from a partial record is 0, anything else absent is null. */
export function figureValue(output: unknown, name: string, kind: FigureKind): number | null {
  let v: unknown = output;
  for (const key of name.split('.')) {
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
  }
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  return v === undefined && kind === 'count' ? 0 : null;
}

/**
 * Judges `output` (a report or probe summary as its JSON shows it). A figure that is null (no
 * evidence) fails its threshold. An inconclusive run neither passes nor fails (docs/architecture.md §4).
 */
export function evaluateThresholds(
  thresholds: readonly Threshold[],
  output: unknown,
  inconclusive: string | null = null,
): ThresholdVerdict {
  const results = thresholds.map((t): ThresholdResult => {
    const value = figureValue(output, t.name, t.kind);
    return {
      name: t.name,
      op: t.op,
      threshold: t.text,
      limit: t.limit,
      value,
      passed: value !== null && COMPARE[t.op](value, t.limit),
    };
  });
  return {
    results,
    passed: inconclusive === null && results.every((r) => r.passed),
    ...(inconclusive !== null ? { inconclusive } : {}),
  };
}

function shown(kind: FigureKind, v: number | null): string {
  if (v === null) return 'n/a (nothing observed)';
  switch (kind) {
    case 'ratio':
      return `${(v * 100).toFixed(2)}%`;
    case 'ms':
      return `${Number(v.toFixed(3))}ms`;
    case 'seconds':
      return `${Number(v.toFixed(3))}s`;
    default:
      return String(Number(v.toFixed(4)));
  }
}

/**
 * The summary block, k6's way: one line per threshold, `✓`/`✗` (`?` when the run is
 * inconclusive), `name op threshold`, dots, the measured value.
 */
export function formatThresholdSummary(
  verdict: ThresholdVerdict,
  kinds: FigureCatalogue,
  title = 'Thresholds',
): string {
  if (verdict.results.length === 0) return '';
  const kindOf = (name: string): FigureKind => kinds.figures.find((f) => f.name === name)?.kind ?? 'number';
  const heads = verdict.results.map((r) => `${r.name} ${r.op} ${r.threshold}`);
  const width = Math.max(...heads.map((h) => h.length)) + 3;
  const lines = [title];
  verdict.results.forEach((r, i) => {
    const mark = verdict.inconclusive !== undefined ? '?' : r.passed ? '✓' : '✗';
    lines.push(`  ${mark} ${`${heads[i]!} `.padEnd(width, '.')} ${shown(kindOf(r.name), r.value)}`);
  });
  const failed = verdict.results.filter((r) => !r.passed).length;
  if (verdict.inconclusive !== undefined)
    lines.push(`  INCONCLUSIVE: ${verdict.inconclusive}; the thresholds neither pass nor fail`);
  else
    lines.push(
      failed === 0
        ? `  all ${verdict.results.length} passed`
        : `  ${failed} of ${verdict.results.length} failed`,
    );
  return `${lines.join('\n')}\n`;
}
