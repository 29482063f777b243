import { Option } from 'commander';
import { settingName } from '../lib/values.js';
import type { FigureCatalogue, Threshold, ThresholdVerdict } from '../witness/thresholds.js';
import { parseThresholds, readThresholds } from '../witness/thresholds.js';
import { EXIT, type ExitCode } from './errors.js';
import type { OptionCheck } from './run.js';

// `--threshold` of `rehearse`, `verify`, `report` and `probe`, one definition. The light modules
// of witness/ are imported directly (not witness/index.js), so a command can check its thresholds
// before it loads the collector, the probes or a cluster client.

export const THRESHOLDS_ENV = 'DRAINWATCH_THRESHOLDS';

/** `--threshold <expr>`, repeatable; DRAINWATCH_THRESHOLDS holds several separated by `;`. */
export function thresholdOption(subject: string): Option {
  return new Option(
    '--threshold <expr>',
    `"name op value" on a figure of ${subject} (repeatable; op < <= > >= == !=), e.g. 'latency.p99Ms < 250ms' or 'sessionPersistence >= 99.5%'; exit 1 when one fails`,
  )
    .env(THRESHOLDS_ENV)
    .argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
}

/**
 * `check` (a command's own rules over its options, cli/run.ts) with every bad `--threshold` after
 * its issues, so one invocation names a bad threshold together with every other bad option.
 */
export function withThresholds(catalogue: FigureCatalogue, check?: OptionCheck): OptionCheck {
  const setting = settingName(THRESHOLDS_ENV, '--threshold');
  return (opts) => {
    const texts = Array.isArray(opts.threshold) ? (opts.threshold as string[]) : [];
    const { problems } = readThresholds(texts, catalogue);
    return [...(check?.(opts) ?? []), ...problems.map((p) => [setting, p.detail] as const)];
  };
}

/**
 * The thresholds given (none: empty), once withThresholds checked them; throws ThresholdError
 * (exit 2) naming every bad one when called unchecked.
 */
export function thresholdsOf(texts: readonly string[] | undefined, catalogue: FigureCatalogue): Threshold[] {
  return parseThresholds(texts ?? [], catalogue);
}

/**
 * The exit code of every verdict a run got (the gate, the thresholds; absent = not asked): 4 when
 * one is inconclusive (never pass or fail), 1 when one failed, else 0 (docs/architecture.md §3).
 */
export function verdictsExitCode(
  ...verdicts: readonly (Pick<ThresholdVerdict, 'passed' | 'inconclusive'> | undefined)[]
): ExitCode {
  const asked = verdicts.filter((v) => v !== undefined);
  if (asked.some((v) => v.inconclusive !== undefined)) return EXIT.inconclusive;
  return asked.every((v) => v.passed) ? EXIT.ok : EXIT.gateFailed;
}
