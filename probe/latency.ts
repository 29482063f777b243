import { build } from 'hdr-histogram-js';

// The probe's own request latency (its summary, `probe --json`): an HdrHistogram, so memory stays
// bounded however long the run (tens of KB), at a documented precision. The rollout report does
// not use it: the collector computes exact percentiles from every probe.request event's duration.

/** Request latency in ms: p50/p95/p99 within PRECISION of the exact nearest-rank sample; max exact. */
export interface ProbeLatency {
  /** Requests measured (first attempts: equal to `requests`). */
  readonly samples: number;
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
}

/**
 * Durations are recorded in whole microseconds with 3 significant digits: a percentile is the
 * highest value of the histogram bucket that holds the exact nearest-rank sample, so it is at
 * most 0.1% (plus 1 µs) above it, never below.
 */
export const LATENCY_SIGNIFICANT_DIGITS = 3;
/** Longer requests are still counted (the histogram resizes); this only sizes it at start. */
const INITIAL_HIGHEST_US = 60_000_000;

export interface LatencyRecorder {
  record(durationMs: number): void;
  summary(): ProbeLatency;
}

export function createLatencyRecorder(): LatencyRecorder {
  const histogram = build({
    bitBucketSize: 'packed',
    numberOfSignificantValueDigits: LATENCY_SIGNIFICANT_DIGITS,
    lowestDiscernibleValue: 1,
    highestTrackableValue: INITIAL_HIGHEST_US,
    autoResize: true,
  });
  const ms = (us: number): number => us / 1000;
  return {
    record(durationMs) {
      histogram.recordValue(Math.max(0, Math.round(durationMs * 1000)));
    },
    summary() {
      const n = histogram.totalCount;
      if (n === 0) return { samples: 0, p50Ms: null, p95Ms: null, p99Ms: null, maxMs: null };
      return {
        samples: n,
        p50Ms: ms(histogram.getValueAtPercentile(50)),
        p95Ms: ms(histogram.getValueAtPercentile(95)),
        p99Ms: ms(histogram.getValueAtPercentile(99)),
        maxMs: ms(histogram.maxValue),
      };
    },
  };
}
