import { monitorEventLoopDelay } from 'node:perf_hooks';

// The probe must never blame the service for its own overload: its event-loop delay is sampled so a
// saturated probe can say its numbers are unreliable.

export interface LoopLagMonitor {
  /** The largest delay (ms) since the previous call. */
  sample(): number;
  stop(): void;
}

export function createLoopLagMonitor(resolutionMs = 10): LoopLagMonitor {
  const h = monitorEventLoopDelay({ resolution: resolutionMs });
  h.enable();
  return {
    sample() {
      // The histogram is in nanoseconds and includes the sampling resolution itself.
      const ms = Math.max(0, h.max / 1e6 - resolutionMs);
      h.reset();
      return ms;
    },
    stop() {
      h.disable();
    },
  };
}
