import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { createIngestQueue, MAX_BATCH_BYTES, takeBatch } from '../../collector/ingest-queue.js';
import { createLogger } from '../../lib/log.js';
import { delay, pollUntil, settledWithin } from '../../lib/wait.js';

const msg = (id: number, bytes: number) => ({ id, data: new Uint8Array(bytes) });
const ids = (ms: readonly { id: number }[]) => ms.map((m) => m.id);

describe('takeBatch', () => {
  it('takes up to the message count, leaving the rest queued in order', () => {
    const queue = [1, 2, 3, 4, 5].map((i) => msg(i, 10));
    expect(ids(takeBatch(queue, 3, 1000))).toEqual([1, 2, 3]);
    expect(ids(queue)).toEqual([4, 5]);
    expect(ids(takeBatch(queue, 3, 1000))).toEqual([4, 5]);
    expect(takeBatch(queue, 3, 1000)).toEqual([]);
  });

  it('stops before the message that would pass the byte bound; a batch of exactly the bound is taken whole', () => {
    const queue = [msg(1, 400), msg(2, 600), msg(3, 1), msg(4, 999)];
    expect(ids(takeBatch(queue, 10, 1000))).toEqual([1, 2]);
    expect(ids(takeBatch(queue, 10, 1000))).toEqual([3, 4]);
  });

  it('takes a message larger than the byte bound alone, never none', () => {
    const queue = [msg(1, 5000), msg(2, 1)];
    expect(ids(takeBatch(queue, 10, 1000))).toEqual([1]);
    expect(ids(takeBatch(queue, 10, 1000))).toEqual([2]);
  });

  it("holds the collector's batches of agents' largest request batches (about 50 KB) to MAX_BATCH_BYTES", () => {
    const queue = Array.from({ length: 200 }, (_, i) => msg(i, 50_000));
    const batch = takeBatch(queue, 200, MAX_BATCH_BYTES);
    expect(batch.length).toBe(Math.floor(MAX_BATCH_BYTES / 50_000));
  });
});

/** A consumer's message iterator fed by the test: push() delivers, end() ends it. */
function feeder() {
  const items: JsMsg[] = [];
  let waiting: ((r: IteratorResult<JsMsg>) => void) | undefined;
  let ended = false;
  const iter = {
    [Symbol.asyncIterator]: () => ({
      next: (): Promise<IteratorResult<JsMsg>> => {
        const m = items.shift();
        if (m) return Promise.resolve({ value: m, done: false });
        if (ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          waiting = resolve;
        });
      },
    }),
  } as unknown as ConsumerMessages;
  const deliver = (r: IteratorResult<JsMsg>) => {
    const w = waiting;
    waiting = undefined;
    w?.(r);
  };
  return {
    iter,
    push(id: number, bytes = 10): void {
      const m = { id, data: new Uint8Array(bytes), working() {} } as unknown as JsMsg;
      if (waiting) deliver({ value: m, done: false });
      else items.push(m);
    },
    end(): void {
      ended = true;
      deliver({ value: undefined, done: true });
    },
  };
}

function queueWith(options: { fetchBatch: number; lingerMs: number }) {
  const controller = new AbortController();
  const batches: number[][] = [];
  const log = createLogger({ name: 'test', level: 'error', format: 'json', write: () => {} });
  const queue = createIngestQueue({
    ...options,
    signal: controller.signal,
    log,
    apply: async (batch) => {
      batches.push(batch.map((m) => (m as unknown as { id: number }).id));
    },
  });
  const feed = feeder();
  const pumped = queue.pump(feed.iter).catch(() => undefined);
  const worked = queue.work();
  const stop = async () => {
    controller.abort();
    feed.end();
    queue.wake();
    await Promise.all([pumped, worked]);
  };
  return { feed, batches, queue, stop };
}

describe('the ingest queue', () => {
  it('gathers a batch for the linger: messages that come while the first waits are applied with it', async () => {
    const q = queueWith({ fetchBatch: 3, lingerMs: 60_000 });
    q.feed.push(1);
    // Far shorter than the linger: without it, message 1 would be applied alone by now.
    await delay(100);
    expect(q.batches).toEqual([]);
    q.feed.push(2);
    q.feed.push(3); // the batch is full: applied without waiting out the linger
    await pollUntil(() => q.batches.length === 1, { timeoutMs: 10_000, what: 'the full batch applied' });
    expect(q.batches).toEqual([[1, 2, 3]]);
    await q.stop();
  });

  it('applies a batch that is not full once its oldest message waited the linger', async () => {
    const q = queueWith({ fetchBatch: 100, lingerMs: 50 });
    q.feed.push(1);
    q.feed.push(2);
    await pollUntil(() => q.batches.length === 1, { timeoutMs: 10_000, what: 'the partial batch applied' });
    expect(q.batches).toEqual([[1, 2]]);
    expect(q.queue.idle()).toBe(true);
    await q.stop();
  });

  it('applies at once with no linger, and a batch past MAX_BATCH_BYTES without waiting for it', async () => {
    const q = queueWith({ fetchBatch: 100, lingerMs: 0 });
    q.feed.push(1);
    await pollUntil(() => q.batches.length === 1, { timeoutMs: 10_000, what: 'message 1 applied' });
    await q.stop();
    const big = queueWith({ fetchBatch: 100, lingerMs: 60_000 });
    const half = MAX_BATCH_BYTES / 2 + 1;
    big.feed.push(1, half);
    big.feed.push(2, half);
    await pollUntil(() => big.batches.length === 1, {
      timeoutMs: 10_000,
      what: 'the batch over the bytes applied',
    });
    // Message 2 would pass the bound: it waits for the next batch (and its own linger).
    expect(big.batches).toEqual([[1]]);
    expect(big.queue.idle()).toBe(false);
    await big.stop();
  });

  it('stops while a batch lingers, applying nothing more (what is queued is redelivered)', async () => {
    const q = queueWith({ fetchBatch: 100, lingerMs: 60_000 });
    q.feed.push(1);
    await delay(50);
    expect(await settledWithin(q.stop(), 10_000)).toBe(true);
    expect(q.batches).toEqual([]);
  });
});
