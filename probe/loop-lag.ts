import { monitorEventLoopDelay } from 'node:perf_hooks';

// The probe must never blame the service for its own overload: its event-loop delay is sampled so a
// saturated probe can say its numbers are unreliable.

export interface LoopLagMonitor {
  /** The largest delay (ms) since the previous call; also folds it into `max`. */
  sample(): number;
  readonly max: number;
  stop(): void;
}

export function createLoopLagMonitor(resolutionMs = 10): LoopLagMonitor {
  const h = monitorEventLoopDelay({ resolution: resolutionMs });
  h.enable();
  let max = 0;
  return {
    sample() {
      // The histogram is in nanoseconds and includes the sampling resolution itself.
      const ms = Math.max(0, h.max / 1e6 - resolutionMs);
      h.reset();
      if (ms > max) max = ms;
      return ms;
    },
    get max() {
      return max;
    },
    stop() {
      h.disable();
    },
  };
}
