import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../lib/redis.js';
import { KEYS } from './keys.js';
import { loadScript } from './scripts.js';

// Several collector replicas share one durable consumer; the work that would otherwise be done
// once per replica (computing each workload's latest report for the score gauges, and exporting
// the workload gauges) is done by the holder of a lease in Redis. A replica that crashes loses it
// after `ttlMs`; another takes it at its next refresh. Closing rollouts needs no lease: the apply
// and sweep scripts close each rollout once, atomically, and only the replica whose script closed
// it adds its figures to the counters.

export interface Lease {
  /** Takes or renews the lease; true while this replica holds it. Rejects when Redis fails. */
  renew(): Promise<boolean>;
  /** True after the last renew() succeeded. */
  readonly held: boolean;
  readonly id: string;
}

type LeaseRedis = RedisClient & {
  drainwatchLease(key: string, id: string, ttlMs: string): Promise<unknown>;
};

/** `ttlMs`: how long a holder that stopped renewing keeps the lease (a few refresh intervals). */
export function createLease(redis: RedisClient, options: { ttlMs: number; id?: string }): Lease {
  const r = redis as LeaseRedis;
  if (typeof r.drainwatchLease !== 'function') {
    redis.defineCommand('drainwatchLease', { numberOfKeys: 1, lua: loadScript('lease') });
  }
  const id = options.id ?? randomUUID();
  let held = false;
  return {
    id,
    async renew() {
      try {
        held = (await r.drainwatchLease(KEYS.gaugeLease, id, String(options.ttlMs))) === 1;
      } catch (err) {
        held = false;
        throw err;
      }
      return held;
    },
    get held() {
      return held;
    },
  };
}
