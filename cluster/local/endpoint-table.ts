import type { Rng } from '../../lib/random.js';
import { type PropagationRange, samplePropagation } from './propagation.js';

// The endpoint list of drainwatch's own entry points (entrypoint.ts per request, entry-tcp.ts per
// connection) and how they pick from it. Each change (a pod became ready, a pod is terminating)
// reaches the list only after a propagation delay drawn for it, as kube-proxy and ingress
// controllers learn of EndpointSlice changes late. The entry points for nginx and HAProxy keep
// their own list (entry-managed.ts): their changes queue behind the balancer's apply step.

/** What the table needs of an entry point's endpoint; the entry point adds its own counters. */
export interface TableEndpoint {
  readonly pod: string;
  routable: boolean;
  /** The sequence number of the last change applied to it. */
  lastApplied: number;
}

export interface EndpointTable<E extends TableEndpoint> {
  /** Every endpoint added, routable or not, in the order first added. */
  all(): E[];
  /** The routable endpoints, in the order first added. */
  routableList(): E[];
  /**
   * Adds `ep` (not routable yet; it replaces an endpoint of the same pod): it becomes routable
   * after a drawn propagation delay, unless a later change to it was applied first.
   */
  add(ep: E): void;
  /**
   * After a drawn propagation delay, `pod` stops being routable and `onApplied` runs with it.
   * Resolves with that delay (ms) then; at once with 0 for a pod never added.
   */
  markTerminating(pod: string, onApplied?: (ep: E) => void): Promise<number>;
  /** The next of `list` in turn (round-robin over the calls of nextInTurn and leastLoaded). */
  nextInTurn(list: readonly E[]): E;
  /**
   * The endpoint of `list` with the lowest `load`; a tie goes to the first from the next in turn,
   * so an idle list still spreads its load (what IPVS `lc` does).
   */
  leastLoaded(list: readonly E[], load: (e: E) => number): E;
  /** Cancels every change still waiting for its delay (a markTerminating then never resolves). */
  stop(): void;
}

/** An empty table. `nextInTurn` and `leastLoaded` take a list of one endpoint or more. */
export function createEndpointTable<E extends TableEndpoint>(
  propagation: PropagationRange,
  rng: Rng,
): EndpointTable<E> {
  const endpoints = new Map<string, E>();
  const timers = new Set<NodeJS.Timeout>();
  let changeSeq = 0;
  let rrNext = 0;

  const routableList = (): E[] => [...endpoints.values()].filter((e) => e.routable);

  /** Runs `apply` after a drawn delay; returns the delay (ms). */
  const schedule = (apply: () => void): number => {
    const ms = samplePropagation(propagation, rng);
    const timer = setTimeout(() => {
      timers.delete(timer);
      apply();
    }, ms);
    timer.unref();
    timers.add(timer);
    return ms;
  };

  return {
    all: () => [...endpoints.values()],
    routableList,
    add(ep) {
      const seq = ++changeSeq;
      endpoints.set(ep.pod, ep);
      schedule(() => {
        if (ep.lastApplied > seq) return;
        ep.lastApplied = seq;
        ep.routable = true;
      });
    },
    markTerminating(pod, onApplied) {
      const ep = endpoints.get(pod);
      if (!ep) return Promise.resolve(0);
      const seq = ++changeSeq;
      return new Promise((resolve) => {
        const ms = schedule(() => {
          ep.lastApplied = seq;
          ep.routable = false;
          onApplied?.(ep);
          resolve(ms);
        });
      });
    },
    nextInTurn: (list) => list[rrNext++ % list.length]!,
    leastLoaded(list, load) {
      const start = rrNext++ % list.length;
      let best = list[start]!;
      for (let i = 1; i < list.length; i++) {
        const e = list[(start + i) % list.length]!;
        if (load(e) < load(best)) best = e;
      }
      return best;
    },
    stop() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}
