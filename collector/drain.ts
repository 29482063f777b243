import type { RedisClient } from '../lib/redis.js';
import { readSlotMapNow } from '../lib/redis-slot-map.js';
import { pollUntil, settledWithin } from '../lib/wait.js';
import { DrainTimeoutError } from './errors.js';
import type { Ingest } from './ingest.js';

// Collector.drain: waiting until everything published so far is applied, for the tests, the bench
// and code that reads a report right after publishing.

/** What drain() looks at, read at each poll (the rebuild and the replay come and go). */
export interface DrainState {
  readonly ingest: Ingest;
  readonly redis: RedisClient | undefined;
  /** A rebuild or a replay from the stream is running. */
  readonly replaying: () => boolean;
}

/**
 * Resolves once the consumer has nothing pending and nothing awaiting ack, the ingest is idle and
 * nothing is replaying; on a Redis Cluster, then reads the slot map (readSlotMapNow) and waits so
 * again, for a master change the last writes met that no read had shown yet. Throws
 * DrainTimeoutError, naming what was still running, after `timeoutMs` (ms, real time as
 * pollUntil's: an injected clock may stand still).
 */
export async function drainCollector(state: DrainState, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = 'not checked';
  const caughtUp = async () => {
    const p = await state.ingest.pending();
    const idle = state.ingest.idle();
    const replaying = state.replaying();
    last = `${p.pending} pending, ${p.ackPending} awaiting ack, ${idle ? 'idle' : 'applying'}${replaying ? ', replaying from the stream' : ''}`;
    return p.pending === 0 && p.ackPending === 0 && idle && !replaying;
  };
  const poll = () =>
    pollUntil(caughtUp, {
      timeoutMs: Math.max(0, deadline - performance.now()),
      intervalMs: 50,
      what: 'the collector to catch up',
      fatal: () => false,
    });
  try {
    await poll();
    if (state.redis) {
      // Each node that does not answer costs ioredis's slotsRefreshTimeout: bounded by ours.
      last = 'reading the Redis Cluster slot map';
      const read = readSlotMapNow(state.redis);
      if (!(await settledWithin(read, deadline - performance.now()))) throw new Error(last);
      if (await read) await poll();
    }
  } catch {
    throw new DrainTimeoutError(timeoutMs, last);
  }
}
