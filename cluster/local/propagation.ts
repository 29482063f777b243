import type { Rng } from '../../lib/random.js';
import { type DurationUnit, InvalidValueError, parseDurationMs } from '../../lib/values.js';
import { LocalClusterConfigError } from './errors.js';

// How long the entry point takes to learn of an endpoint change. Kubernetes gives no bound: the
// EndpointSlice reaches each kube-proxy and ingress controller on its own schedule, and the
// reading reports 1–5 s as typical, so the default draws each change's delay from that range.

export interface PropagationRange {
  readonly minMs: number;
  readonly maxMs: number;
}

export const DEFAULT_PROPAGATION: PropagationRange = { minMs: 1000, maxMs: 5000 };

/** The shared duration grammar; a bare number takes `bareUnit` (the range's unit). */
function durationOf(setting: string, text: string, bareUnit: DurationUnit): number {
  try {
    return parseDurationMs(setting, text, bareUnit);
  } catch (err) {
    if (err instanceof InvalidValueError) throw new LocalClusterConfigError(setting, err.detail);
    throw err;
  }
}

/** `2s` (fixed), `1-5s` or `500ms-2s` (uniform range), `0` (instant). */
export function parsePropagation(text: string, setting = 'propagation'): PropagationRange {
  const t = text.trim();
  const range = /^([\d.]+(?:ms|s|m|h|d)?)-([\d.]+(?:ms|s|m|h|d)?)$/.exec(t);
  if (range) {
    // `1-5s`: the unit of the upper bound applies to a bare lower bound.
    const unit = (/(ms|s|m|h|d)$/.exec(range[2]!)?.[1] ?? 's') as DurationUnit;
    const minMs = durationOf(setting, range[1]!, unit);
    const maxMs = durationOf(setting, range[2]!, unit);
    if (minMs > maxMs)
      throw new LocalClusterConfigError(setting, `range ${JSON.stringify(text)} runs backwards`);
    return { minMs, maxMs };
  }
  const ms = durationOf(setting, t, 's');
  return { minMs: ms, maxMs: ms };
}

export function samplePropagation(range: PropagationRange, rng: Rng): number {
  return Math.round(range.minMs + (range.maxMs - range.minMs) * rng());
}

export function formatPropagation(range: PropagationRange): string {
  return range.minMs === range.maxMs ? `${range.minMs}ms` : `${range.minMs}-${range.maxMs}ms`;
}
