import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { Logger } from '../lib/log.js';

// The iterator's own pending count is not reliable (it counts internal control items), so
// messages move to a queue of ours: a pump fills it, the worker applies whatever it holds.
// Two batches in flight: the next one is decoded while Redis runs the previous script. Order
// between them does not matter, because applying is idempotent and reports are order-free.

const MAX_INFLIGHT = 2;

/**
 * The most message bytes applied in one batch (at least one message is). A batch's messages, their
 * decoded events and the script's arguments stay alive until Redis answers, so they outlive the
 * collections of V8's young generation and are copied by each one: batches of 500 of the scale
 * bench's 1.9 KB messages (about 1 MB) cost a third more CPU per event than batches of 150-250
 * (docs/scaling.md). A request.batch of 100 records is up to about 50 KB, so the byte bound, not
 * the count, is what holds the batches of busy agents to the same size.
 */
export const MAX_BATCH_BYTES = 512 * 1024;

/**
 * Removes from the head of `queue` and returns the next batch to apply: as many messages as come
 * before `maxMessages` or `maxBytes` (their payload bytes) would be passed, and always at least
 * one (a message larger than `maxBytes` is a batch of its own). Empty only for an empty queue.
 */
export function takeBatch<M extends { readonly data: Uint8Array }>(
  queue: M[],
  maxMessages: number,
  maxBytes: number,
): M[] {
  let n = 0;
  let bytes = 0;
  while (n < queue.length && n < maxMessages) {
    bytes += queue[n]!.data.byteLength;
    if (n > 0 && bytes > maxBytes) break;
    n++;
  }
  return queue.splice(0, n);
}

export interface IngestQueueOptions {
  /** The most messages applied at once (and at most MAX_BATCH_BYTES of them). */
  readonly fetchBatch: number;
  /**
   * How long (ms) a batch that is not full waits for more messages after its first one arrived; 0
   * applies whatever has arrived at once. Each batch costs a script call and an acknowledgement
   * flush, socket writes whose cost does not depend on the batch's size, so at a steady rate a
   * short wait makes fewer, larger batches for a little latency (docs/scaling.md).
   */
  readonly lingerMs: number;
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
  const { signal, log, lingerMs } = options;
  const queue: JsMsg[] = [];
  /** When each queued message arrived (performance.now(), ms), in queue order. */
  const arrivals: number[] = [];
  let queuedBytes = 0;
  let wake: (() => void) | undefined;
  let pumpDone = false;
  const inflight = new Set<Promise<void>>();

  const full = () => queue.length >= options.fetchBatch || queuedBytes >= MAX_BATCH_BYTES;

  async function pump(iter: ConsumerMessages): Promise<void> {
    try {
      for await (const m of iter) {
        queue.push(m);
        arrivals.push(performance.now());
        queuedBytes += m.data.byteLength;
        // The worker waits for a first message, or for a full batch while it lingers.
        if (queue.length === 1 || full()) wake?.();
      }
      // nats.js ends the iterator itself only when it gives up (e.g. the consumer was deleted).
      if (!signal.aborted) throw new Error('the durable consumer stopped delivering');
    } finally {
      pumpDone = true;
      wake?.();
    }
  }

  /** Waits for a wake (a message, a full batch, the stop) or for `others` to settle, or `ms` to pass. */
  async function wait(others: readonly Promise<void>[], ms?: number): Promise<void> {
    const woken = new Promise<void>((resolve) => {
      wake = resolve;
    });
    let timer: NodeJS.Timeout | undefined;
    const expired =
      ms === undefined
        ? []
        : [
            new Promise<void>((resolve) => {
              timer = setTimeout(resolve, ms);
              timer.unref();
            }),
          ];
    await Promise.race([woken, ...others, ...expired]);
    clearTimeout(timer);
    wake = undefined;
  }

  async function work(): Promise<void> {
    for (;;) {
      if (signal.aborted) break;
      if (queue.length === 0 || inflight.size >= MAX_INFLIGHT) {
        if (queue.length === 0 && inflight.size === 0 && pumpDone) break;
        await (queue.length === 0 ? wait([...inflight]) : Promise.race([...inflight]));
        continue;
      }
      // Apply whatever has arrived once the batch is full or its oldest message waited lingerMs: a
      // full batch under load, a few events when traffic is thin.
      const left = arrivals[0]! + lingerMs - performance.now();
      if (left > 0 && !full() && !pumpDone) {
        await wait([], left);
        continue;
      }
      const batch = takeBatch(queue, options.fetchBatch, MAX_BATCH_BYTES);
      arrivals.splice(0, batch.length);
      for (const m of batch) queuedBytes -= m.data.byteLength;
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
