import type { Rng } from '../../lib/random.js';
import { LocalClusterConfigError } from './errors.js';

// How long the entry point takes to learn of an endpoint change. Kubernetes gives no bound: the
// EndpointSlice reaches each kube-proxy and ingress controller on its own schedule, and the
// reading reports 1–5 s as typical, so the default draws each change's delay from that range.

export interface PropagationRange {
  readonly minMs: number;
  readonly maxMs: number;
}

export const DEFAULT_PROPAGATION: PropagationRange = { minMs: 1000, maxMs: 5000 };

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

function durationOf(setting: string, text: string, defaultUnit: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m)
    throw new LocalClusterConfigError(
      setting,
      `expected a duration like 2s or 500ms, got ${JSON.stringify(text)}`,
    );
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? defaultUnit]!);
}

/** `2s` (fixed), `1-5s` or `500ms-2s` (uniform range), `0` (instant). */
export function parsePropagation(text: string, setting = 'propagation'): PropagationRange {
  const t = text.trim();
  const range = /^([\d.]+(?:ms|s|m)?)-([\d.]+(?:ms|s|m)?)$/.exec(t);
  if (range) {
    const unit = /(ms|s|m)$/.exec(range[2]!)?.[1] ?? 's';
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
