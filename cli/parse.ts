import { Option } from 'commander';
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

// Commander's option value parsers over the shared grammars of lib/values.ts. A bad value does not
// stop commander at the first one: the parser returns an InvalidOption in its place, and the
// action wrapper (cli/run.ts) names every bad option at once, before anything starts.

/** A flag or env value that did not fit its grammar; `detail` is the one-line reason. */
export class InvalidOption {
  constructor(
    readonly value: string,
    readonly detail: string,
  ) {}
}

function adapt<T>(parse: (setting: string, value: string) => T): (value: string) => T {
  return (value: string) => {
    // An empty environment variable means "not set", as in every component's config loader.
    if (value.trim() === '') return undefined as T;
    try {
      return parse('', value);
    } catch (err) {
      if (err instanceof InvalidValueError) return new InvalidOption(value, err.detail) as T;
      throw err;
    }
  };
}

export const positiveInt = adapt(parsePositiveInt);

export const nonNegativeInt = adapt((setting, value) => parseWholeNumber(setting, value, 0));

/** A decimal number > 0. */
export const positiveNumber = adapt(parsePositiveNumber);

/** `500ms`, `30s`, `2m`, `1h`, or a bare number of seconds. Returns milliseconds. */
export const durationMs = adapt((setting, value) => parseDurationMs(setting, value));

/** A ratio between 0 and 1; `95%` is accepted too. */
export const score = adapt(parseScore);

export function oneOf<T extends string>(choices: readonly T[]): (value: string) => T {
  return adapt((setting, value) => parseChoice(setting, value, choices));
}

export function url(protocols: readonly string[]): (value: string) => string {
  return adapt((setting, value) => parseUrl(setting, value, protocols));
}

/**
 * An option with its environment variable and the default help shows (`default: 30s`), when a
 * component's config loader, not commander, applies that default (flag > env > default).
 */
export function settingOption(flags: string, help: string, env: string, shownDefault?: string): Option {
  const option = new Option(flags, help).env(env);
  if (shownDefault !== undefined) option.defaultValueDescription = shownDefault;
  return option;
}
