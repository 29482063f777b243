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
