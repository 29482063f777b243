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

/** The probe's own lag over a run: the ramp's login storm apart, and whether it made the run unreliable. */
export interface LagWatch {
  /** The lag (ms) of the latest sample. */
  readonly lastMs: number;
  /** The largest lag (ms) once the ramp settled. */
  readonly maxMs: number;
  /** The largest lag (ms) while ramping. */
  readonly rampMaxMs: number;
  /** Set by the first sample above the threshold once the ramp settled; null until then. */
  readonly unreliableReason: string | null;
  /** Starts sampling (a monitor per run, from its start). */
  start(): void;
  /** Takes one sample; a no-op before start(). */
  sample(): void;
  stop(): void;
}

/** Lag over `thresholdMs` (ms) once `rampSettled()` marks the run unreliable. */
export function createLagWatch(thresholdMs: number, rampSettled: () => boolean): LagWatch {
  let lag: LoopLagMonitor | undefined;
  let lastMs = 0;
  let maxMs = 0;
  let rampMaxMs = 0;
  let unreliableReason: string | null = null;
  return {
    get lastMs() {
      return lastMs;
    },
    get maxMs() {
      return maxMs;
    },
    get rampMaxMs() {
      return rampMaxMs;
    },
    get unreliableReason() {
      return unreliableReason;
    },
    start() {
      lag = createLoopLagMonitor();
    },
    sample() {
      if (!lag) return;
      lastMs = lag.sample();
      // The login storm of the ramp is reported apart: a rollout is measured after it.
      if (!rampSettled()) {
        rampMaxMs = Math.max(rampMaxMs, lastMs);
      } else if (lastMs > maxMs) {
        maxMs = lastMs;
      }
      if (rampSettled() && lastMs > thresholdMs && !unreliableReason) {
        unreliableReason = `probe event-loop lag reached ${Math.round(lastMs)} ms (> ${thresholdMs} ms): the probe itself was overloaded`;
      }
    },
    stop() {
      lag?.stop();
    },
  };
}

/**
 * Runs `fn` once the I/O that had arrived when it was called has been read. A loop that stalled
 * (a starved probe) runs its due timers before it polls for I/O, so a timer's callback sees none of
 * what arrived during the stall: a WebSocket ping would go out on a connection whose close frame
 * is already waiting unread, and be counted lost with it though the server closed first (measured
 * with the price feed's drained echo: docs/probe.md, "A starved probe and the closes it has not
 * read"). Two check phases, not one: the rehearsal's entry point runs in the probe's process, so
 * a frame it reads from a pod in one poll phase reaches the probe's own socket in the next.
 */
export function afterPendingIo(fn: () => void): void {
  setImmediate(() => setImmediate(fn));
}
