import { Cluster } from 'ioredis';
import type { RedisClient } from './redis.js';

// What a Redis Cluster client's slot map tells beyond routing: a master that may have lost
// acknowledged writes (a crash, a forced failover, a partitioned master demoted), and the
// periodic read that makes such a change seen while nothing is written.

/** How often a cluster client re-reads the slot map by itself, in ms. */
export const SLOTS_REFRESH_INTERVAL_MS = 5000;

/** Number of hash slots of a Redis Cluster (Redis Cluster specification). */
const HASH_SLOTS = 16_384;

/**
 * Calls `onChange(slots)` when a slot-map refresh of `cluster` shows `slots` hash slots served by
 * another master than at the refresh before, their old master serving none now (demoted or gone):
 * a failover. Such a change can lose writes the old master acknowledged with no connection lost
 * and no command failed (a forced failover, or a partitioned master that kept taking writes: Redis
 * Cluster specification, "Write safety"). Slots resharded to another master while the old one
 * still serves slots are not counted: MIGRATE moved their keys synchronously, nothing was lost
 * (the last step of emptying a master is counted). ioredis re-reads the map after a MOVED
 * redirection and on (re)connection, and a createRedisCluster client every
 * SLOTS_REFRESH_INTERVAL_MS; the first map read is the baseline. Returns the unsubscribe function.
 */
export function onSlotMastersChanged(cluster: Cluster, onChange: (slots: number) => void): () => void {
  let masters: (string | undefined)[] | undefined;
  const read = (): void => {
    const now = Array.from({ length: HASH_SLOTS }, (_, slot) => cluster.slots[slot]?.[0]);
    const before = masters;
    masters = now;
    if (!before) return;
    const serving = new Set(now);
    let changed = 0;
    // A slot never mapped before (undefined) had no master to lose writes; ioredis keeps a slot's
    // last master when a read leaves the slot out, so a slot whose old master serves nothing now
    // has another one.
    for (let slot = 0; slot < HASH_SLOTS; slot++) {
      const was = before[slot];
      if (was !== undefined && !serving.has(was)) changed++;
    }
    if (changed > 0) onChange(changed);
  };
  cluster.on('refresh', read);
  return () => cluster.off('refresh', read);
}

/**
 * Calls `onLost(reason)` when a Redis Cluster client saw a master it may have written to go: the
 * connection to a master node removed (ioredis `-node`: a crashed master), or slots moved to
 * another master while the old one serves none (onSlotMastersChanged: a forced failover, a
 * partitioned master demoted). A replica's connection removed is not a loss (frozen, restarted,
 * or resyncing: Redis 7 leaves a loading replica out of CLUSTER SLOTS): ioredis writes to masters
 * only, over connections that are not readOnly. A demoted master's connection counts when a map
 * read leaves it out while it resyncs (still known as a master); else the slot map tells. Each
 * trigger may call `onLost` for the same change: the caller's replay is idempotent. A client other
 * than a Cluster never calls it.
 */
export function onClusterMasterLost(client: RedisClient, onLost: (reason: string) => void): void {
  if (!(client instanceof Cluster)) return;
  client.on('-node', (node?: { options?: { readOnly?: boolean } }) => {
    if (!node?.options?.readOnly) onLost('master node removed');
  });
  onSlotMastersChanged(client, (slots) => onLost(`${slots} slots moved to another master`));
}

/**
 * Re-reads `cluster`'s slot map every `intervalMs` (ms) while it is ready, so a failover that
 * happened while nothing was written is seen within that delay (onSlotMastersChanged). Not
 * ioredis's `slotsRefreshInterval`: its timer is not unref()ed, and a disconnect() while a read
 * is in flight (up to slotsRefreshTimeout per node that does not answer) leaves it re-armed by
 * that read, every interval forever, so a stopped collector's process never exits. This one is
 * unref()ed, stops when the client closes and starts again when it is ready.
 */
export function refreshSlotsWhileReady(cluster: Cluster, intervalMs: number): void {
  let timer: NodeJS.Timeout | undefined;
  const stop = (): void => {
    clearInterval(timer);
    timer = undefined;
  };
  cluster.on('ready', () => {
    timer ??= setInterval(() => {
      if (cluster.status === 'ready') cluster.refreshSlotsCache();
    }, intervalMs).unref();
  });
  cluster.on('close', stop);
  cluster.on('end', stop);
}

/**
 * Resolves once a read of the slot map that began after this call has ended (one in progress is
 * waited for, then one more is made), so a master change made before the call has told the
 * listeners of onSlotMastersChanged. ioredis starts no read while one is in progress, not even for
 * a MOVED, so a command redirected during a read may complete before any read sees its new master.
 * Resolves false at once for a client other than a Cluster, else true. Each read is bounded by
 * ioredis's `slotsRefreshTimeout` per node; a read that failed (every node unreachable) resolves too.
 */
export async function readSlotMapNow(client: RedisClient): Promise<boolean> {
  if (!(client instanceof Cluster)) return false;
  const cluster = client;
  const readOnce = () => new Promise<void>((resolve) => cluster.refreshSlotsCache(() => resolve()));
  await readOnce();
  await readOnce();
  return true;
}
