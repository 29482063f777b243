// The agent's time seam: what reads the time and what waits take these, so the termination state
// machine runs under a hand-driven clock in unit tests and under the real one in the pod.

/** Milliseconds since the Unix epoch, sub-millisecond and monotonic within the process. */
export interface Clock {
  now(): number;
}

/** Cancels a timer set through a Scheduler; calling it after the timer fired does nothing. */
export type CancelTimer = () => void;

export interface Scheduler {
  /** Calls `fn` once after `ms` milliseconds. The real timers never hold the process open. */
  setTimeout(fn: () => void, ms: number): CancelTimer;
}

const timeOrigin = performance.timeOrigin;

/** performance.now() on the epoch: monotonic, unlike Date.now(), and still a wall-clock time. */
export const systemClock: Clock = { now: () => timeOrigin + performance.now() };

/** Node's timers, each unref()ed. */
export const systemScheduler: Scheduler = {
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** Resolves after `ms` on the given scheduler. */
export function sleep(scheduler: Scheduler, ms: number): Promise<void> {
  return new Promise((resolve) => {
    scheduler.setTimeout(resolve, ms);
  });
}
