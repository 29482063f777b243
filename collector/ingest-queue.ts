import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { Logger } from '../lib/log.js';

// The iterator's own pending count is not reliable (it counts internal control items), so
// messages move to a queue of ours: a pump fills it, the worker applies whatever it holds.
// Two batches in flight: the next one is decoded while Redis runs the previous script. Order
// between them does not matter, because applying is idempotent and reports are order-free.

const MAX_INFLIGHT = 2;

export interface IngestQueueOptions {
  /** The largest batch applied at once. */
  readonly fetchBatch: number;
  /** Aborted when the ingest stops: the pump and the worker end. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Applies and acks one batch (BatchApply.flush). */
  readonly apply: (batch: JsMsg[]) => Promise<void>;
}

export interface IngestQueue {
  /**
   * Moves delivered messages into the queue until the iterator ends; rejects when it ends while
   * not stopping.
   */
  pump(iter: ConsumerMessages): Promise<void>;
  /** Applies what is queued until stopped, or until the pump ended and everything was applied. */
  work(): Promise<void>;
  /** Wakes a waiting worker (to see the stop). */
  wake(): void;
  /** True when nothing is queued nor being applied. */
  idle(): boolean;
  /** working() on every queued message: none is redelivered while a batch ahead is retried. */
  holdQueued(): void;
}

export function createIngestQueue(options: IngestQueueOptions): IngestQueue {
  const { signal, log } = options;
  const queue: JsMsg[] = [];
  let wake: (() => void) | undefined;
  let pumpDone = false;
  const inflight = new Set<Promise<void>>();

  async function pump(iter: ConsumerMessages): Promise<void> {
    try {
      for await (const m of iter) {
        queue.push(m);
        wake?.();
      }
      // nats.js ends the iterator itself only when it gives up (e.g. the consumer was deleted).
      if (!signal.aborted) throw new Error('the durable consumer stopped delivering');
    } finally {
      pumpDone = true;
      wake?.();
    }
  }

  async function work(): Promise<void> {
    for (;;) {
      if (signal.aborted) break;
      if (queue.length === 0 || inflight.size >= MAX_INFLIGHT) {
        if (queue.length === 0 && inflight.size === 0 && pumpDone) break;
        const woken = new Promise<void>((resolve) => {
          wake = resolve;
        });
        await Promise.race(queue.length === 0 ? [woken, ...inflight] : [...inflight]);
        wake = undefined;
        continue;
      }
      // Apply whatever has arrived: a full batch under load, a single event when traffic is thin.
      const batch = queue.splice(0, options.fetchBatch);
      const p: Promise<void> = options
        .apply(batch)
        .catch((err) =>
          log.error({ error: (err as Error).message }, 'a batch failed and will be redelivered'),
        )
        .finally(() => {
          inflight.delete(p);
        });
      inflight.add(p);
    }
    await Promise.all(inflight);
  }

  return {
    pump,
    work,
    wake() {
      wake?.();
    },
    idle: () => inflight.size === 0 && queue.length === 0,
    holdQueued() {
      for (const m of queue) m.working();
    },
  };
}
