import type { Redis } from 'ioredis';

// The feed's own record of what it sent, kept apart from the probe. An event id is added to
// `sent:<user>` (a set) and counted in `writes:<user>` only from the write's callback, once Node
// handed the bytes to the kernel: an event still in the process's buffers when it dies was never
// sent. `settled()` lets the exit path wait for the records in flight, so a pod that dies leaves
// an exact count behind. What a user missed is then the ids between its first and last never sent
// (read back by ../feed-ledger.ts, the key layout all the example feeds share).

export interface NewsLedger {
  /** Records `id` as sent to `user` (call from the write's callback). */
  record(user: string, id: number): void;
  /** Resolves once every record made so far is in Redis (failed records are dropped). */
  settled(): Promise<void>;
}

export function createNewsLedger(redis: Redis): NewsLedger {
  const pending = new Set<Promise<unknown>>();
  return {
    record(user, id) {
      const p = redis
        .multi()
        .sadd(`sent:${user}`, String(id))
        .incr(`writes:${user}`)
        .sadd('users', user)
        .exec()
        .catch(() => undefined)
        .finally(() => pending.delete(p));
      pending.add(p);
    },
    async settled() {
      await Promise.all([...pending]);
    },
  };
}
