import type { EventKind } from '../contract/index.js';
import { dataSchemas, type EventData } from '../contract/validate.js';
import type { Distribution, LatencyDistribution } from './report-types.js';

// What every part of the report shares: the typed reading of an event's data, and the figures
// (counts by key, distributions, ratios) the report is made of.

/**
 * The data of `event` when it is of `kind` and its data follows that kind's schema; undefined
 * otherwise. Facts are plain data (from Redis, or built by a test): a kind's data is read through
 * the contract's schema, never cast.
 */
export function dataOf<K extends EventKind>(
  event: { readonly kind: string; readonly data: unknown },
  kind: K,
): EventData<K> | undefined {
  if (event.kind !== kind) return undefined;
  const parsed = dataSchemas[kind].safeParse(event.data);
  return parsed.success ? (parsed.data as EventData<K>) : undefined;
}

/** An event with its data read as `kind` (see dataOf), or nothing. */
export function eventsOf<K extends EventKind, E extends { readonly kind: string; readonly data: unknown }>(
  events: readonly E[],
  kind: K,
): (Omit<E, 'data'> & { readonly data: EventData<K> })[] {
  const out: (Omit<E, 'data'> & { readonly data: EventData<K> })[] = [];
  for (const e of events) {
    const data = dataOf(e, kind);
    if (data !== undefined) out.push({ ...e, data });
  }
  return out;
}

export function zeroes<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

/** Adds `n` to `counts[key]`. */
export function bump(counts: Record<string, number>, key: string, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}

/** Samples, median (the lower one for an even count) and maximum; nulls without samples. */
export function distribution(values: readonly number[]): Distribution {
  if (values.length === 0) return { samples: 0, p50Ms: null, maxMs: null };
  const sorted = [...values].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50Ms: sorted[Math.ceil(sorted.length / 2) - 1]!,
    maxMs: sorted[sorted.length - 1]!,
  };
}

/**
 * The nearest-rank `p`th percentile (0 < p ≤ 100) of ascending `sorted`: the smallest sample with at
 * least p% of the samples at or below it, so always a value that was measured; null when empty.
 */
export function nearestRank(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

/** Samples, p50/p95/p99 (nearest rank, exact) and maximum of request durations (ms). */
export function latencyDistribution(values: readonly number[]): LatencyDistribution {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50Ms: nearestRank(sorted, 50),
    p95Ms: nearestRank(sorted, 95),
    p99Ms: nearestRank(sorted, 99),
    maxMs: nearestRank(sorted, 100),
  };
}

/** num ÷ den; null when there is nothing to divide by (no evidence is not a score). */
export function ratio(num: number, den: number): number | null {
  return den === 0 ? null : num / den;
}

export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
