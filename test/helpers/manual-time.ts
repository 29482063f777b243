import type { Clock, Scheduler } from '../../agent/index.js';

// A hand-driven clock and scheduler for the agent's pure modules (agent/time.ts): time moves only
// when the test calls advance(), and timers fire in due order, each followed by every promise
// continuation it caused, so a test reads like the timeline it checks.

export interface ManualTime {
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  /** Clock ms now. */
  readonly now: number;
  /** Timers set and not yet fired or cancelled. */
  readonly pending: number;
  /** Moves time forward by ms, firing each timer due on the way at its own due time. */
  advance(ms: number): Promise<void>;
  /** Runs every promise continuation queued so far (no time passes). */
  settle(): Promise<void>;
}

interface Timer {
  readonly at: number;
  readonly id: number;
  readonly fn: () => void;
}

// Every queued microtask runs before an immediate does, including those queued meanwhile.
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function createManualTime(start = 1_700_000_000_000): ManualTime {
  let now = start;
  let nextId = 0;
  const timers = new Map<number, Timer>();
  const scheduler: Scheduler = {
    setTimeout(fn, ms) {
      nextId += 1;
      const timer = { at: now + Math.max(0, ms), id: nextId, fn };
      timers.set(timer.id, timer);
      return () => {
        timers.delete(timer.id);
      };
    },
  };
  const nextDue = (until: number): Timer | undefined => {
    let first: Timer | undefined;
    for (const t of timers.values()) {
      if (t.at <= until && (!first || t.at < first.at || (t.at === first.at && t.id < first.id))) first = t;
    }
    return first;
  };
  return {
    clock: { now: () => now },
    scheduler,
    get now() {
      return now;
    },
    get pending() {
      return timers.size;
    },
    async advance(ms) {
      const until = now + ms;
      await settle();
      for (let t = nextDue(until); t; t = nextDue(until)) {
        timers.delete(t.id);
        now = t.at;
        t.fn();
        await settle();
      }
      now = until;
      await settle();
    },
    settle,
  };
}
