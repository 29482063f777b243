import type { Rng } from '../../lib/random.js';
import { type EntryActivity, type EntryChange, type EntryKind, summarizeChanges } from './entry-activity.js';
import type { EndpointCounts, Entrypoint } from './entrypoint.js';
import { type PropagationRange, samplePropagation } from './propagation.js';

// An entry point that is a real balancer process (nginx, HAProxy): this module keeps the endpoint
// list and the propagation delays, and hands each change to the balancer once its delay has passed,
// one change at a time in the order they were made. The balancer's own apply step (a reload, a
// runtime command) is timed, and an endpoint counts as routable or gone only once it is done.

/** One pod as the balancer process knows it. */
export interface ManagedEndpoint {
  readonly pod: string;
  readonly port: number;
  /** The pod's idle keep-alive timeout, ms, when known. */
  readonly keepAliveTimeoutMs: number | undefined;
  routable: boolean;
  /** Changes are applied in the order they were made, even when a later one draws a shorter delay. */
  lastApplied: number;
}

export interface EntryBackend {
  readonly kind: Exclude<EntryKind, 'local'>;
  start(): Promise<{ url: string; port: number }>;
  stop(): Promise<void>;
  /** Makes the balancer route to exactly `desired`; `change` is the one endpoint that differs. */
  apply(change: 'add' | 'remove', ep: ManagedEndpoint, desired: readonly ManagedEndpoint[]): Promise<void>;
  /** Retries and upstream errors from the balancer's logs or stats. */
  activity(): Promise<Pick<EntryActivity, 'version' | 'retries' | 'retriedElsewhere' | 'upstreamErrors'>>;
  counts(): ReadonlyMap<string, EndpointCounts>;
}

export function createManagedEntrypoint(
  backend: EntryBackend,
  options: { readonly propagation: PropagationRange; readonly rng: Rng },
): Entrypoint {
  const endpoints = new Map<string, ManagedEndpoint>();
  const timers = new Set<NodeJS.Timeout>();
  const changes: EntryChange[] = [];
  let changeSeq = 0;
  let queue: Promise<void> = Promise.resolve();
  let stopped = false;
  let stopping: Promise<void> | undefined;

  const routableList = (): ManagedEndpoint[] => [...endpoints.values()].filter((e) => e.routable);

  /** After a drawn delay, applies the change; resolves with the delay and the apply time (ms). */
  function schedule(type: 'add' | 'remove', ep: ManagedEndpoint, seq: number): Promise<number> {
    const delayMs = samplePropagation(options.propagation, options.rng);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        const due = Date.now();
        queue = queue.then(async () => {
          if (stopped || ep.lastApplied > seq) return resolve(delayMs);
          const desired = routableList().filter((e) => e !== ep);
          if (type === 'add') desired.push(ep);
          try {
            await backend.apply(type, ep, desired);
          } catch {
            // A change the balancer refused leaves the endpoint as it was; the run's figures show it.
            return resolve(delayMs);
          }
          ep.lastApplied = seq;
          ep.routable = type === 'add';
          const applyMs = Date.now() - due;
          changes.push({ type, pod: ep.pod, delayMs, applyMs });
          resolve(delayMs + applyMs);
        });
      }, delayMs);
      timer.unref();
      timers.add(timer);
    });
  }

  return {
    kind: backend.kind,
    start: () => backend.start(),
    stop() {
      stopping ??= (async () => {
        stopped = true;
        for (const t of timers) clearTimeout(t);
        timers.clear();
        await queue.catch(() => {});
        await backend.stop();
      })();
      return stopping;
    },
    addEndpoint(pod, port, keepAliveTimeoutMs) {
      const ep: ManagedEndpoint = { pod, port, keepAliveTimeoutMs, routable: false, lastApplied: 0 };
      endpoints.set(pod, ep);
      void schedule('add', ep, ++changeSeq);
    },
    markTerminating(pod) {
      const ep = endpoints.get(pod);
      if (!ep) return Promise.resolve(0);
      return schedule('remove', ep, ++changeSeq);
    },
    routable: () => routableList().map((e) => e.pod),
    counts: () => backend.counts(),
    async activity() {
      const own = await backend.activity();
      return { entry: backend.kind, ...own, changes: [...changes], ...summarizeChanges(changes) };
    },
  };
}
