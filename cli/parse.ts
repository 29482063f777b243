import { InvalidArgumentError } from 'commander';
import {
  InvalidValueError,
  parseChoice,
  parseDurationMs,
  parsePositiveInt,
  parsePositiveNumber,
  parseScore,
  parseUrl,
  parseWholeNumber,
} from '../lib/values.js';

// Commander's option value parsers over the shared grammars of lib/values.ts: each rejects a bad
// value with a one-line message commander prints after naming the option.

function adapt<T>(parse: (setting: string, value: string) => T): (value: string) => T {
  return (value: string) => {
    try {
      return parse('', value);
    } catch (err) {
      if (err instanceof InvalidValueError) throw new InvalidArgumentError(err.detail);
      throw err;
    }
  };
}

export const positiveInt = adapt(parsePositiveInt);

export const nonNegativeInt = adapt((setting, value) => parseWholeNumber(setting, value, 0));

/** A decimal number > 0. */
export const positiveNumber = adapt(parsePositiveNumber);

/** `500ms`, `30s`, `2m`, `1h`, or a bare number of seconds. Returns milliseconds. */
export const durationMs = adapt((setting, value) => parseDurationMs(setting, value, 's'));

/** A ratio between 0 and 1; `95%` is accepted too. */
export const score = adapt(parseScore);

export function oneOf<T extends string>(choices: readonly T[]): (value: string) => T {
  return adapt((setting, value) => parseChoice(setting, value, choices));
}

export function url(protocols: readonly string[]): (value: string) => string {
  return adapt((setting, value) => parseUrl(setting, value, protocols));
}
